//! Import of conversation files: detects the format and converts it to Confab's model.

use super::export::ExportDocument;
use super::{ServiceError, ServiceResult, Services};
use crate::api::ImportReport;
use crate::model::User;

impl Services {
    /// Imports a file in any supported format. Re-importing the same file adds nothing.
    pub async fn import_bytes(&self, user: &User, bytes: &[u8]) -> ServiceResult<ImportReport> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| {
            ServiceError::invalid(
                "invalid_json",
                format!("the file is not valid JSON: {error}"),
            )
        })?;
        if value.get("format").and_then(|format| format.as_str())
            == Some(super::export::EXPORT_FORMAT)
        {
            let document: ExportDocument = serde_json::from_value(value).map_err(|error| {
                ServiceError::invalid(
                    "invalid_export",
                    format!("the Confab export is malformed: {error}"),
                )
            })?;
            return self.import_confab(user, document).await;
        }
        Err(ServiceError::invalid(
            "unsupported_format",
            "the file is not in a format Confab can import",
        ))
    }
}
