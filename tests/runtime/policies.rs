//! Least privilege, checked both ways. `code_paths` lists, per function, the DynamoDB calls its
//! code makes, composed from the shared building blocks it runs (the catalog read, customer
//! resolution, the linkage transaction, the idempotency layer, ...). A test holds every template
//! policy to exactly those grants (nothing missing, nothing extra, no Scan, no SAM CRUD
//! templates); the Runtime API tests then record what each binary really calls through the
//! DynamoDB recorder and fail when it calls something not listed here, or when a listed call
//! never happens and is not marked as unreachable from the event files.

use crate::dynamodb_recorder::DynamoDbRecorder;
use crate::template::{Function, Grant, Kind};
use std::collections::BTreeSet;

/// One call a code path makes: the IAM action, the resource unless it is the table (an index
/// `table/index/X`, the files bucket's keys `bucket/incoming/*`, a queue `queue/<LogicalId>`), where.
#[derive(Debug, Clone, Copy)]
pub struct Use {
    pub action: &'static str,
    pub resource: Option<&'static str>,
    pub code: &'static str,
    /// False where the event files cannot reach it (a race, a rare fallback); says why in `code`.
    pub exercised: bool,
}

const fn on_table(action: &'static str, code: &'static str) -> Use {
    Use { action, resource: None, code, exercised: true }
}

const fn rarely(action: &'static str, code: &'static str) -> Use {
    Use { action, resource: None, code, exercised: false }
}

/// A call on `resource` (not the table): S3 keys, a queue, an index.
const fn on(action: &'static str, resource: &'static str, code: &'static str) -> Use {
    Use { action, resource: Some(resource), code, exercised: true }
}

impl Use {
    pub fn grant(&self) -> Grant {
        match self.resource {
            Some(resource) => Grant::on(self.action, resource),
            None => Grant::table(self.action),
        }
    }
}

// ---- building blocks (shared/src) --------------------------------------------------------------

/// `AppState::catalog`: the org item and its loyalty/partner programs.
const CATALOG: &[Use] = &[
    on_table("dynamodb:GetItem", "AppState::catalog → Store::org"),
    on_table("dynamodb:Query", "AppState::catalog → Store::loyalty_programs, Store::partner_programs"),
];

/// `customer_identity::resolve`: identifier items, then the profile.
const RESOLVE_CUSTOMER: &[Use] =
    &[on_table("dynamodb:GetItem", "customer_identity::resolve → Store::customer_id_by, Store::customer")];

/// `linkage_write::change_linkage`: read the linkage, then one TransactWriteItems of Puts
/// (linkage on its version, activity, outbox event).
const CHANGE_LINKAGE: &[Use] = &[
    on_table("dynamodb:GetItem", "linkage_write::change_linkage → Store::linkage"),
    on_table("dynamodb:PutItem", "linkage_write::build_items → TransactWriteItems Put (linkage, activity, event)"),
];

/// `idempotency::guard` around every POST carrying an `Idempotency-Key`.
const IDEMPOTENCY: &[Use] = &[
    on_table("dynamodb:PutItem", "idempotency::claim / put_owned → PutItem of the key's record"),
    rarely("dynamodb:GetItem", "idempotency::claim → Store::get, only when a failed claim returned no item"),
];

/// `Store::next_id`: an ADD on a sequence item.
const NEXT_ID: &[Use] = &[on_table("dynamodb:UpdateItem", "Store::next_id (ADD on the sequence item)")];

// ---- what the operations themselves call (shared/src/operations, auth) --------------------------

const AUTHENTICATE: &[Use] = &[on_table("dynamodb:GetItem", "auth::authenticate → Store::client_record")];
const CREATE_LOYALTY_PROGRAM: Use = on_table(
    "dynamodb:PutItem",
    "create_loyalty_program::create_loyalty_program → TransactWriteItems Put (program, name guard)",
);
const CREATE_CLIENT: Use = on_table("dynamodb:PutItem", "auth::create_named_client → Store::put_new (client record)");
const WHO_AM_I: Use = on_table("dynamodb:GetItem", "whoami::handle → Store::org");
const PARTNER_FILE: Use = on_table("dynamodb:GetItem", "partner_files::one → Store::partner_file");
const PARTNER_FILES: Use = on_table("dynamodb:Query", "partner_files::list → Store::recent_partner_files");
const LIST_PROGRAMS: Use =
    on_table("dynamodb:Query", "list_programs::handle → Store::loyalty_programs, Store::partner_programs");
const FIRST_PROGRAM: Use =
    on_table("dynamodb:Query", "create_loyalty_program::handle → Store::loyalty_programs (is it the org's default)");
const PUT_PARTNER_PROGRAM: Use =
    on_table("dynamodb:PutItem", "put_partner_program::handle → TransactWriteItems Put (program, id record)");
const REGISTER_CUSTOMER: Use =
    on_table("dynamodb:PutItem", "register_customer::register → TransactWriteItems Put (profile, identifier guards)");
const CHECK_ENROLLED: Use = on_table("dynamodb:ConditionCheckItem", "link_customer::link_one → tx::check_enrolled");
const RELEASE_MEMBERSHIP_ID: Use =
    on_table("dynamodb:DeleteItem", "delink_customer::delink_one → tx::delete (membership-id claim)");
const RELEASE_RELINK_MEMBERSHIP_ID: Use = rarely(
    "dynamodb:DeleteItem",
    "update_customer_partner_program::cancel_relink → tx::delete (membership-id claim of a cancelled pending relink; \
     the event files upgrade a tier)",
);
/// Expiry reminders of a change that moves an expiry: the new ones are Puts of the
/// linkage transaction (CHANGE_LINKAGE's PutItem); those of the expiry it replaced are Deletes.
const DISARM_REMINDERS: Use = rarely(
    "dynamodb:DeleteItem",
    "storage::reminder_items::rearm_items → TransactWriteItems Delete (reminders of an expiry a renewal, \
     upgrade, pause or delink replaced; only for programs with expiryReminderDays)",
);
/// `erase_customer::erase`: the profile, the linkages, then the erasure transaction
/// and one delink transaction per active linkage (`change_linkage`, with membership-id deletes).
const ERASE_CUSTOMER: &[Use] = &[
    on_table("dynamodb:GetItem", "erase_customer::erase → Store::customer"),
    on_table("dynamodb:Query", "erase_customer::erase → Store::linkages"),
    on_table(
        "dynamodb:PutItem",
        "erase_customer::erase_profile → TransactWriteItems Put (profile, customerErased event)",
    ),
    on_table(
        "dynamodb:DeleteItem",
        "erase_customer::erase_profile / released_items → TransactWriteItems Delete \
         (identifier and membership-id items)",
    ),
    on_table("dynamodb:Query", "erase_customer::erase → Store::delete_membership_id_trail (the trail items)"),
    rarely(
        "dynamodb:DeleteItem",
        "erase_customer::erase → Store::delete_membership_id_trail, a customer that held a membership id",
    ),
];
const LIST_LINKAGES: Use = on_table("dynamodb:Query", "customer_partner_programs::handle → Store::linkages");
const READ_HISTORY: Use = on_table(
    "dynamodb:Query",
    "customer_activity_histories::handle → Store::linkages, activity_history::read_page / \
     benefits_availed (key ranges)",
);

/// `expiry_sweep`: the due index and the watermark on every run; the catalog and the
/// change transaction when something is due (the scheduled test lets a tier expire first);
/// program fan-out and backup memberships only for an expiring program.
const SWEEP: &[Use] = &[
    Use {
        action: "dynamodb:Query",
        resource: Some("table/index/DueIndex"),
        code: "sweep::DueWalk::next_page → Store::query_due_page",
        exercised: true,
    },
    on_table("dynamodb:GetItem", "sweep::first_unfinished_day → Store::sweep_watermark, AppState::warm_up"),
    rarely(
        "dynamodb:UpdateItem",
        "sweep::advance_watermark → Store::advance_sweep_watermark (a past day finished) / \
         finish_program → Store::remove_due_keys",
    ),
    on_table("dynamodb:Query", "AppState::catalog of an org with due work"),
    on_table(
        "dynamodb:PutItem",
        "sweep::commit → transaction_items / backup_items (linkage, activity, event), only with due work",
    ),
    rarely("dynamodb:DeleteItem", "sweep::commit → transaction_items, a freed membership-id claim"),
    rarely("dynamodb:ConditionCheckItem", "sweep::commit → backup_items, enrolment check of a backup membership"),
    rarely("dynamodb:BatchGetItem", "sweep::member_page → Store::batch_get_consistent, members of an expired program"),
    rarely(
        "dynamodb:ConditionCheckItem",
        "sweep::due_reminders::process_reminder, the linkage still has the reminded expiry",
    ),
    rarely(
        "dynamodb:DeleteItem",
        "sweep::due_reminders, a reminder sent or dropped; rearm_items, an expiry's old reminders",
    ),
    Use {
        action: "dynamodb:Query",
        resource: Some("table/index/ProgramMembers"),
        code: "sweep::member_page → Store::query_program_member_keys, an expired program",
        exercised: false,
    },
];

/// `expiry_preview::handle`: the catalog, the watermark, the due index; for one member, its
/// linkages and reminders.
const EXPIRY_PREVIEW: &[Use] = &[
    Use {
        action: "dynamodb:Query",
        resource: Some("table/index/DueIndex"),
        code: "expiry_preview::preview → sweep::DueWalk::next_page → Store::query_due_page",
        exercised: true,
    },
    on_table("dynamodb:GetItem", "sweep::first_unfinished_day → Store::sweep_watermark"),
    rarely("dynamodb:GetItem", "expiry_preview::member_preview → customer_identity::resolve_with_linkages"),
    rarely(
        "dynamodb:Query",
        "expiry_preview::member_preview → the member's linkages, reminder_items::reminders_of (one member's preview)",
    ),
];

/// `membership_lookup::lookup`: the trail index, each program's live claim, each match's linkage.
const MEMBERSHIP_LOOKUP: &[Use] = &[
    Use {
        action: "dynamodb:Query",
        resource: Some("table/index/MembershipIds"),
        code: "membership_lookup::lookup → Store::membership_id_holders",
        exercised: true,
    },
    on_table("dynamodb:GetItem", "membership_lookup::lookup → Store::membership_id_claimant"),
    rarely("dynamodb:GetItem", "membership_lookup::lookup → Store::linkage, for an id someone holds or held"),
];

/// `file_sync::import::import_object`: the org and its catalog, the claim of the content, the
/// file item; S3 reads of the object and a refused file's results; the chunks on the queue.
const FILE_IMPORT: &[Use] = &[
    on_table("dynamodb:GetItem", "import_object → Store::org; Store::partner_file (an earlier claim of the content)"),
    on_table(
        "dynamodb:PutItem",
        "Store::claim_partner_file → TransactWriteItems Put (claim, file item); save_partner_file",
    ),
    on_table("dynamodb:UpdateItem", "Store::start_partner_file (row and chunk totals)"),
    on("s3:GetObject", "bucket/incoming/*", "Objects::range (the header window), Objects::reader (the chunking pass)"),
    on("s3:PutObject", "bucket/results/*", "import::reject → the results file of a file refused as a whole"),
    on("sqs:SendMessage", "queue/PartnerFileChunkQueue", "ChunkQueue::send → SendMessageBatch"),
];

/// `file_sync::worker::process_chunk`: the file item, the rows through the link, update and delink
/// handlers (and a membership id's holder), the chunk counted once, the finish; S3 reads of the
/// chunk, its result part, and the results file joined from the parts.
const FILE_WORKER: &[Use] = &[
    on_table("dynamodb:GetItem", "process_chunk, finish_if_complete → Store::partner_file"),
    on_table(
        "dynamodb:PutItem",
        "Store::complete_partner_file_chunk (chunk marker), finish_partner_file (partnerFileProcessed event)",
    ),
    on_table("dynamodb:UpdateItem", "Store::complete_partner_file_chunk (counts), finish_partner_file (done)"),
    on(
        "dynamodb:Query",
        "table/index/MembershipIds",
        "apply::customer_of → Store::membership_id_holders (a row naming only a membership id nobody holds now)",
    ),
    on("s3:GetObject", "bucket/incoming/*", "Objects::range (the chunk's bytes)"),
    on("s3:PutObject", "bucket/work/*", "worker → Objects::put (the chunk's result lines)"),
    on("s3:GetObject", "bucket/work/*", "results::join_parts → Objects::get (each chunk's part)"),
    on(
        "s3:PutObject",
        "bucket/results/*",
        "results::join_parts → Objects::put_stream (the parts as one PutObject), or Upload's multipart parts",
    ),
    Use {
        action: "s3:AbortMultipartUpload",
        resource: Some("bucket/results/*"),
        code: "Upload::abort, a join in parts (parts that no longer add up) whose upload failed",
        exercised: false,
    },
];

/// The DynamoDB calls of each function's code path (its operation plus the layers around it).
pub fn code_paths(f: &Function) -> Option<Vec<Use>> {
    let parts: &[&[Use]] = match f.logical_id.as_str() {
        "AuthorizerFunction" => &[AUTHENTICATE],
        "CreateLoyaltyProgramFunction" => &[NEXT_ID, &[CREATE_LOYALTY_PROGRAM, FIRST_PROGRAM]],
        "ListProgramsFunction" => &[&[LIST_PROGRAMS]],
        "CreateClientFunction" => &[&[CREATE_CLIENT]],
        "WhoAmIFunction" => &[&[WHO_AM_I]],
        "PutPartnerProgramFunction" => &[CATALOG, NEXT_ID, &[PUT_PARTNER_PROGRAM]],
        "RegisterCustomerFunction" => &[CATALOG, NEXT_ID, &[REGISTER_CUSTOMER]],
        "LinkCustomerFunction" => &[CATALOG, RESOLVE_CUSTOMER, CHANGE_LINKAGE, &[CHECK_ENROLLED]],
        "DelinkCustomerFunction" => {
            &[CATALOG, RESOLVE_CUSTOMER, CHANGE_LINKAGE, &[RELEASE_MEMBERSHIP_ID, DISARM_REMINDERS]]
        }
        "CustomerPartnerProgramsFunction" => &[CATALOG, RESOLVE_CUSTOMER, &[LIST_LINKAGES]],
        "MembershipLookupFunction" => &[CATALOG, MEMBERSHIP_LOOKUP],
        "PartnerFilesFunction" => &[&[PARTNER_FILE, PARTNER_FILES]],
        "CustomerActivityHistoriesFunction" => &[CATALOG, RESOLVE_CUSTOMER, &[READ_HISTORY]],
        "UpdateCustomerPartnerProgramFunction" => {
            &[CATALOG, RESOLVE_CUSTOMER, CHANGE_LINKAGE, &[RELEASE_RELINK_MEMBERSHIP_ID, DISARM_REMINDERS]]
        }
        "CustomerBenefitsFunction" => &[CATALOG, RESOLVE_CUSTOMER, CHANGE_LINKAGE],
        "EraseCustomerFunction" => &[CATALOG, CHANGE_LINKAGE, ERASE_CUSTOMER, &[DISARM_REMINDERS]],
        "TierExpirySweepFunction" => &[SWEEP],
        "ExpiryPreviewFunction" => &[CATALOG, EXPIRY_PREVIEW],
        "ConsoleFunction" => &[],
        "PartnerFileImportFunction" => &[CATALOG, FILE_IMPORT],
        "PartnerFileWorkerFunction" => &[
            CATALOG,
            RESOLVE_CUSTOMER,
            CHANGE_LINKAGE,
            &[CHECK_ENROLLED, RELEASE_MEMBERSHIP_ID, RELEASE_RELINK_MEMBERSHIP_ID, DISARM_REMINDERS],
            FILE_WORKER,
        ],
        _ => return None,
    };
    let mut uses: Vec<Use> = parts.concat();
    let is_post = f.routes.iter().any(|(m, _)| m == "POST");
    if f.kind == Kind::Http && is_post {
        uses.extend_from_slice(IDEMPOTENCY);
    }
    Some(uses)
}

pub fn declared_grants(uses: &[Use]) -> BTreeSet<Grant> {
    uses.iter().map(Use::grant).collect()
}

/// After a binary handled the event files: every call it made is declared, and every declared
/// grant was used unless marked as unreachable from the event files.
pub fn check_recorded(f: &Function, recorder: &DynamoDbRecorder) -> Result<(), String> {
    check_grants_used(f, &recorder.grants_used())
}

/// `check_recorded` for grants recorded by any recorder (DynamoDB, S3, SQS) together.
pub fn check_grants_used(f: &Function, used: &BTreeSet<Grant>) -> Result<(), String> {
    let uses =
        code_paths(f).ok_or_else(|| format!("{}: no entry in tests/runtime/policies.rs code_paths", f.logical_id))?;
    let declared = declared_grants(&uses);
    let undeclared: Vec<String> = used.difference(&declared).map(ToString::to_string).collect();
    if !undeclared.is_empty() {
        return Err(format!(
            "{} ({}) called DynamoDB, S3 or SQS beyond its code_paths entry: {undeclared:?}; add the code path to \
             tests/runtime/policies.rs and the action to its template policy",
            f.logical_id, f.binary
        ));
    }
    let unreachable: BTreeSet<Grant> = uses.iter().filter(|u| !u.exercised).map(Use::grant).collect();
    let used = used.clone();
    let unseen: Vec<String> = uses
        .iter()
        .filter(|u| !used.contains(&u.grant()) && !unreachable.contains(&u.grant()))
        .map(|u| format!("{} ({})", u.grant(), u.code))
        .collect();
    if !unseen.is_empty() {
        return Err(format!(
            "{} ({}) never used {unseen:?} while handling its event files: drop it from code_paths and \
             the policy, or mark the code path that needs it as not exercised (and say why)",
            f.logical_id, f.binary
        ));
    }
    Ok(())
}
