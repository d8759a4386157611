//! An org's settings and programs as read at one moment: what every rule of a request decides on.
//! `AppState::catalog` caches it per container.

use crate::domain::model::{LoyaltyProgram, Org, PartnerProgram};
use crate::domain::zone::Zone;

/// An org's settings and programs, as read at one moment.
#[derive(Debug, Clone)]
pub struct OrgCatalog {
    pub org: Org,
    pub loyalty_programs: Vec<LoyaltyProgram>,
    pub partner_programs: Vec<PartnerProgram>,
    /// `org.time_zone`, looked up once when the catalog is read (UTC if the name is unknown).
    zone: Zone,
}

impl OrgCatalog {
    pub fn new(org: Org, loyalty_programs: Vec<LoyaltyProgram>, partner_programs: Vec<PartnerProgram>) -> OrgCatalog {
        let zone = org.tz();
        OrgCatalog { org, loyalty_programs, partner_programs, zone }
    }

    /// The org's time zone.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    pub fn partner_program(&self, name: &str) -> Option<&PartnerProgram> {
        self.partner_programs.iter().find(|p| p.partner_program_name == name)
    }

    pub fn partner_program_by_id(&self, id: u64) -> Option<&PartnerProgram> {
        self.partner_programs.iter().find(|p| p.partner_program_id == id)
    }

    /// The loyalty program a partner program belongs to.
    pub fn loyalty_program_of(&self, program: Option<&PartnerProgram>) -> Option<&LoyaltyProgram> {
        let id = program?.loyalty_program_id;
        self.loyalty_programs.iter().find(|lp| lp.program_id == id)
    }
}
