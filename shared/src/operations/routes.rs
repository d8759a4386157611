//! The route table: each operation's method, path and SAM function (as in `template.yaml`), for the
//! local server and the tests; a Lambda binary names its operation itself, and
//! `tests/api/template_routes.rs` checks both against the template.

use super::*;
use crate::http::api::ApiRequest;
use crate::http::router::{Answer, Handler};
use crate::state::AppState;
use futures::future::BoxFuture;
use std::collections::HashMap;

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// Logical id of the function in `template.yaml`.
    pub function: &'static str,
    /// The operation it runs; a function with several routes (aliases) runs one operation.
    pub operation: &'static str,
    pub handler: Handler,
}

macro_rules! route {
    ($method:literal, $path:literal, $function:literal, $op:path) => {{
        fn handler(state: &AppState, req: ApiRequest) -> BoxFuture<'_, Answer> {
            Box::pin($op(state, req))
        }
        Route { method: $method, path: $path, function: $function, operation: stringify!($op), handler }
    }};
}

pub fn routes() -> Vec<Route> {
    vec![
        route!("POST", "/v2/organization/programs", "CreateLoyaltyProgramFunction", create_loyalty_program::handle),
        route!("GET", "/v2/organization/programs", "ListProgramsFunction", list_programs::handle),
        route!("POST", "/v2/organization/clients", "CreateClientFunction", create_client::handle),
        route!("GET", "/v2/organization/me", "WhoAmIFunction", whoami::handle),
        route!(
            "PUT",
            "/v2/organization/partnerPrograms/{partnerProgramName}",
            "PutPartnerProgramFunction",
            put_partner_program::handle
        ),
        route!("POST", "/v2/customers", "RegisterCustomerFunction", register_customer::handle),
        route!("DELETE", "/v2/customers/{id}", "EraseCustomerFunction", erase_customer::handle),
        route!("POST", "/v2/partnerProgram/linkCustomer", "LinkCustomerFunction", link_customer::handle),
        route!("POST", "/v2/partnerProgram/deLinkCustomer", "DelinkCustomerFunction", delink_customer::handle),
        route!("GET", "/v2/partnerProgram/expiryPreview", "ExpiryPreviewFunction", expiry_preview::handle),
        route!(
            "POST",
            "/v2/partnerProgram/customerPartnerProgramUpdate",
            "UpdateCustomerPartnerProgramFunction",
            update_customer_partner_program::handle
        ),
        route!("POST", "/v2/partnerProgram/customerBenefits", "CustomerBenefitsFunction", customer_benefits::handle),
        route!(
            "GET",
            "/v2/partnerProgram/customerActivityHistories",
            "CustomerActivityHistoriesFunction",
            customer_activity_histories::handle
        ),
        route!(
            "GET",
            "/v2/partnerProgram/customerActivityHistory",
            "CustomerActivityHistoriesFunction",
            customer_activity_histories::handle
        ),
        route!(
            "GET",
            "/v2/partnerProgram/customerPartnerPrograms",
            "CustomerPartnerProgramsFunction",
            customer_partner_programs::handle
        ),
        route!("GET", "/v2/partnerProgram/membershipLookup", "MembershipLookupFunction", membership_lookup::handle),
        route!("GET", "/v2/partnerProgram/partnerFiles", "PartnerFilesFunction", partner_files::handle),
        route!("GET", "/v2/partnerProgram/partnerFiles/{id}", "PartnerFilesFunction", partner_files::handle),
    ]
}

/// What a method and path resolve to. Path parameters are as sent (still percent-encoded):
/// `request_decoding` decodes them, so the local server and the Lambda adapter decode alike.
pub enum Matched {
    Found(Handler, HashMap<String, String>),
    MethodNotAllowed,
    NotFound,
}

pub fn match_route(method: &str, path: &str) -> Matched {
    let mut path_matched = false;
    for r in routes() {
        if let Some(params) = match_path(r.path, path) {
            // Methods are case-sensitive (RFC 9110 §9.1): `post` is not POST.
            if r.method == method {
                return Matched::Found(r.handler, params);
            }
            path_matched = true;
        }
    }
    if path_matched {
        Matched::MethodNotAllowed
    } else {
        Matched::NotFound
    }
}

/// The operation (`Route::operation`, the handler's path) a method and path run, if routed.
pub fn operation_of(method: &str, path: &str) -> Option<&'static str> {
    routes().into_iter().find(|r| r.method == method && match_path(r.path, path).is_some()).map(|r| r.operation)
}

fn match_path(pattern: &str, path: &str) -> Option<HashMap<String, String>> {
    let pat: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    if pat.len() != got.len() {
        return None;
    }
    let mut params = HashMap::new();
    for (p, g) in pat.iter().zip(got) {
        if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if g.is_empty() {
                return None;
            }
            params.insert(name.to_string(), g.to_string());
        } else if *p != g {
            return None;
        }
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_with_parameters_as_sent_and_methods_exactly() {
        let Matched::Found(_, p) = match_route("PUT", "/v2/organization/partnerPrograms/Sky%20Miles") else { panic!() };
        assert_eq!(p["partnerProgramName"], "Sky%20Miles");
        assert!(matches!(match_route("DELETE", "/v2/customers"), Matched::MethodNotAllowed));
        assert!(matches!(match_route("post", "/v2/customers"), Matched::MethodNotAllowed));
        assert!(matches!(match_route("GET", "/v2/nothing"), Matched::NotFound));
    }

    #[test]
    fn every_function_runs_one_operation() {
        // A function may serve aliases (several paths), but its binary passes one operation to
        // `run_http`, so every route of a function must run the same operation.
        let mut ops: HashMap<&str, &str> = HashMap::new();
        for r in routes() {
            let op = ops.entry(r.function).or_insert(r.operation);
            assert_eq!(*op, r.operation, "{} runs two operations", r.function);
        }
        let mut keys: Vec<_> = routes().iter().map(|r| (r.method, r.path)).collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "a method and path are routed twice");
    }
}
