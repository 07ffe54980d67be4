use axum::Router;
use runtime::{RuntimeError, Service};
use tokio_util::sync::CancellationToken;

use crate::settings::{SERVICE, Settings};

/// The health-monitor, wired exactly as in production; tests build it on port 0.
pub struct Application {
    service: Service,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, RuntimeError> {
        let service = Service::build(SERVICE, settings.common).await?;
        Ok(Application { service })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    pub async fn run_until_stopped(self, cancel: CancellationToken) -> Result<(), RuntimeError> {
        self.service.run_until_stopped(Router::new(), cancel).await
    }
}
