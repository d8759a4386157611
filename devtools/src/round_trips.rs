//! Sequential DynamoDB round trips, as the round-trip tests (`tests/api/round_trips.rs`) and the
//! benchmark (`bench/`) count them from the calls an SDK interceptor saw.

use std::time::Instant;

/// The longest chain of calls in which each started after the one before it had ended: what a
/// request waited for one round trip after another. Calls in flight together count once, and a
/// long call beside two sequential ones does not hide them (the union of the spans would count
/// one). A call that never ended (`None`) can only end a chain.
pub fn sequential_round_trips(spans: impl IntoIterator<Item = (Instant, Option<Instant>)>) -> usize {
    let mut spans: Vec<(Instant, Option<Instant>)> = spans.into_iter().collect();
    // Earliest end first (unfinished last): the greedy choice that yields a longest chain.
    spans.sort_by_key(|&(start, end)| (end.is_none(), end, start));
    let mut trips = 0;
    let mut free_from: Option<Instant> = None;
    for (start, end) in spans {
        if free_from.is_none_or(|at| start >= at) {
            trips += 1;
            match end {
                Some(end) => free_from = Some(end),
                None => break,
            }
        }
    }
    trips
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spans(ms: &[(u64, Option<u64>)]) -> Vec<(Instant, Option<Instant>)> {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        ms.iter().map(|&(s, e)| (at(s), e.map(at))).collect()
    }

    #[test]
    fn calls_in_flight_together_count_once() {
        assert_eq!(sequential_round_trips(spans(&[(0, Some(10)), (1, Some(8)), (9, Some(15)), (16, Some(20))])), 3);
        assert_eq!(sequential_round_trips(spans(&[(0, Some(5)), (0, Some(6)), (1, Some(4))])), 1);
        assert_eq!(sequential_round_trips(spans(&[])), 0);
    }

    #[test]
    fn a_long_call_beside_two_sequential_ones_does_not_merge_them() {
        // An idempotency claim (0-9) beside the identity read (0-4) and the linkage query (4-8),
        // then the transaction and the completion: four round trips, not the union's three.
        let calls = [(0, Some(9)), (0, Some(4)), (4, Some(8)), (10, Some(14)), (15, Some(16))];
        assert_eq!(sequential_round_trips(spans(&calls)), 4);
    }

    #[test]
    fn chained_calls_each_count_and_an_unfinished_one_ends_the_chain() {
        assert_eq!(sequential_round_trips(spans(&[(0, Some(10)), (11, Some(18)), (19, Some(25))])), 3);
        assert_eq!(sequential_round_trips(spans(&[(0, Some(10)), (11, None), (12, Some(13))])), 2);
    }
}
