//! Notes: a few small values a deployment shares across its replicas (a
//! tripped rollout guard), one plain string key each, kept until deleted.
//! The tenant is the key's hash tag, as for its releases.

use super::{Fault, RedisStore};

fn note_key(tenant: &str, name: &str) -> String {
    format!("cb:{{{tenant}}}:note:{name}")
}

impl RedisStore {
    pub async fn read_note(&self, tenant: &str, name: &str) -> Result<Option<String>, Fault> {
        let mut conn = self.conn();
        let r = redis::cmd("GET")
            .arg(note_key(tenant, name))
            .query_async::<Option<String>>(&mut conn)
            .await;
        self.answer(r).await
    }

    pub async fn write_note(&self, tenant: &str, name: &str, value: &str) -> Result<(), Fault> {
        let mut conn = self.conn();
        let r = redis::cmd("SET")
            .arg(note_key(tenant, name))
            .arg(value)
            .query_async::<()>(&mut conn)
            .await;
        self.answer(r).await
    }

    pub async fn delete_note(&self, tenant: &str, name: &str) -> Result<(), Fault> {
        self.delete(note_key(tenant, name)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_hash_tagged_by_its_tenant() {
        assert_eq!(
            note_key("shop", "rollout-trip:validate:0.1"),
            "cb:{shop}:note:rollout-trip:validate:0.1"
        );
    }
}
