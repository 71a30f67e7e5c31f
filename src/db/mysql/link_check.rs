//! MySQL/MariaDB's side of `vault links`: FEDERATED/FederatedX tables and `mysql.servers` entries.

use vault_format::UnlockedVault;

use super::{Mysql, not_built};
use crate::exit::ToolError;
use crate::links::{FoundLinks, LinkCheck};

impl LinkCheck for Mysql {
    async fn find_links(
        &mut self,
        _captured: Option<&UnlockedVault>,
    ) -> Result<FoundLinks, ToolError> {
        Err(not_built("links"))
    }
}
