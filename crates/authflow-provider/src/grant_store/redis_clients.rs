//! Dynamically registered clients in Redis: one hash, `clients`, id to JSON record, with
//! no expiry (a registration lives until deleted), so every instance sees the same ones.

use super::StoreResult;
use super::redis::{RedisGrantStore, backend};

impl RedisGrantStore {
    pub(super) async fn insert_client_now(
        &self,
        id: &str,
        record: &str,
        cap: usize,
    ) -> StoreResult<bool> {
        let inserted: i64 = self
            .scripts
            .insert_client
            .key(self.key("clients"))
            .arg(id)
            .arg(record)
            .arg(cap)
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| backend("register a client", &e))?;
        Ok(inserted == 1)
    }

    pub(super) async fn client_now(&self, id: &str) -> StoreResult<Option<String>> {
        redis::cmd("HGET")
            .arg(self.key("clients"))
            .arg(id)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| backend("read a registered client", &e))
    }

    pub(super) async fn remove_client_now(&self, id: &str) -> StoreResult<bool> {
        let removed: i64 = redis::cmd("HDEL")
            .arg(self.key("clients"))
            .arg(id)
            .query_async(&mut self.conn())
            .await
            .map_err(|e| backend("delete a registered client", &e))?;
        Ok(removed == 1)
    }
}
