//! Attribute-based rules on top of the role matrix, in Cedar (`cedar-policy`): an optional
//! policy file (`policy_file`) evaluated after the role check has allowed a request. Cedar's
//! own semantics apply: a request is allowed only when some `permit` matches and no `forbid`
//! does — so a file that only restricts starts with `permit(principal, action, resource);`.
//! A refusal names the deciding policies by their `@id("…")` annotation.
//!
//! What a policy sees (documented in `docs/server.md#policies`):
//! - `principal`: `Scorpius::Key::"<key id>"` with attributes `tenant` and `role`;
//! - `action`: `Scorpius::Action::"scan.run"`, `"scan.read"`, `"intel.read"`, `"intel.import"`,
//!   `"audit.read"`, `"audit.export"`, `"keys.manage"`, `"health.deep"`;
//! - `resource`: `Scorpius::Tenant::"<tenant>"`;
//! - `context`: `ip` (an `ipaddr`: the peer, or the first address of the configured client-IP
//!   header), `method`, `route` (the template, `/v1/scans/{id}`), `hour_utc` (0–23),
//!   `weekday_utc` (1 = Monday … 7 = Sunday).

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    path::Path,
    str::FromStr,
};

use anyhow::{Context as _, Result};
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request,
    RestrictedExpression,
};

use crate::auth::{Action, Principal};

/// A loaded policy set.
#[derive(Debug)]
pub struct Policies {
    set: PolicySet,
    authorizer: Authorizer,
}

/// What a request looks like to a policy.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The caller.
    pub principal: &'a Principal,
    /// What it wants.
    pub action: Action,
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The route template.
    pub route: &'a str,
    /// The client address.
    pub ip: IpAddr,
    /// Now (UTC).
    pub now: time::OffsetDateTime,
}

fn uid(kind: &str, id: &str) -> Result<EntityUid> {
    let t = EntityTypeName::from_str(kind).map_err(|e| anyhow::anyhow!("entity type {kind}: {e}"))?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
}

impl Policies {
    /// Parses a policy file. Errors name the file and what Cedar found wrong.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading the policy file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("the policy file {}", path.display()))
    }

    /// Parses policies from text.
    pub fn parse(text: &str) -> Result<Self> {
        let set = PolicySet::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        if set.policies().next().is_none() {
            anyhow::bail!("no policies: every request would be denied (write at least one `permit`)");
        }
        Ok(Policies { set, authorizer: Authorizer::new() })
    }

    /// Decides a request: `Ok(())`, or `Err(reason)` naming the deciding policies.
    pub fn check(&self, f: &Facts<'_>) -> Result<(), String> {
        let request = match self.request(f) {
            Ok(r) => r,
            // Cannot happen with the types above; deny rather than allow on a surprise.
            Err(e) => return Err(format!("the request could not be described to the policy engine ({e})")),
        };
        let response = self.authorizer.is_authorized(&request.0, &self.set, &request.1);
        match response.decision() {
            Decision::Allow => Ok(()),
            Decision::Deny => {
                // A policy's `@id("…")` annotation names it; else Cedar's positional id.
                let ids: Vec<String> = response
                    .diagnostics()
                    .reason()
                    .map(|id| {
                        self.set
                            .policy(id)
                            .and_then(|p| p.annotation("id"))
                            .map_or_else(|| id.to_string(), str::to_owned)
                    })
                    .collect();
                let errors = response.diagnostics().errors().count();
                Err(match (ids.is_empty(), errors) {
                    (false, _) => format!("{} forbidden by {}", f.action.id(), ids.join(", ")),
                    (true, 0) => format!("no policy permits {}", f.action.id()),
                    (true, n) => format!("no policy permits {} ({n} policy evaluation error(s))", f.action.id()),
                })
            }
        }
    }

    fn request(&self, f: &Facts<'_>) -> Result<(Request, Entities)> {
        let principal = uid("Scorpius::Key", &f.principal.key_id)?;
        let attrs = HashMap::from([
            ("tenant".to_owned(), RestrictedExpression::new_string(f.principal.tenant.clone())),
            ("role".to_owned(), RestrictedExpression::new_string(f.principal.role.as_str().to_owned())),
        ]);
        let key = Entity::new(principal.clone(), attrs, HashSet::new())?;
        let entities = Entities::from_entities([key], None)?;
        let context = Context::from_pairs([
            ("ip".to_owned(), RestrictedExpression::new_ip(f.ip.to_string())),
            ("method".to_owned(), RestrictedExpression::new_string(f.method.to_owned())),
            ("route".to_owned(), RestrictedExpression::new_string(f.route.to_owned())),
            ("hour_utc".to_owned(), RestrictedExpression::new_long(i64::from(f.now.hour()))),
            ("weekday_utc".to_owned(), RestrictedExpression::new_long(i64::from(f.now.weekday().number_from_monday()))),
        ])?;
        let request = Request::new(
            principal,
            uid("Scorpius::Action", f.action.id())?,
            uid("Scorpius::Tenant", &f.principal.tenant)?,
            context,
            None,
        )?;
        Ok((request, entities))
    }
}

#[cfg(test)]
mod tests {
    use scorpius_core::api::keys::Role;

    use super::*;

    const POLICY: &str = r#"
        permit(principal, action, resource);
        @id("exports-from-the-office")
        forbid(principal, action == Scorpius::Action::"audit.export", resource)
        unless { context.ip.isInRange(ip("10.0.0.0/8")) };
        @id("business-hours")
        forbid(principal, action == Scorpius::Action::"keys.manage", resource)
        when { context.hour_utc < 8 || context.hour_utc >= 18 || context.weekday_utc > 5 };
        @id("no-imports-for-tenant-b")
        forbid(principal, action == Scorpius::Action::"intel.import", resource == Scorpius::Tenant::"b");
    "#;

    fn facts<'a>(p: &'a Principal, action: Action, ip: &str, now: time::OffsetDateTime) -> Facts<'a> {
        Facts { principal: p, action, method: "GET", route: "/v1/x", ip: ip.parse().unwrap(), now }
    }

    #[test]
    fn a_real_policy_decides() {
        let pol = Policies::parse(POLICY).unwrap();
        let a = Principal { key_id: "key_1".into(), tenant: "a".into(), role: Role::Admin };
        let b = Principal { key_id: "key_2".into(), tenant: "b".into(), role: Role::Admin };
        // Wednesday 2026-11-25, 10:00 and 20:00 UTC.
        let day = time::macros::datetime!(2026-11-25 10:00 UTC);
        let night = time::macros::datetime!(2026-11-25 20:00 UTC);
        assert_eq!(pol.check(&facts(&a, Action::AuditExport, "10.1.2.3", day)), Ok(()));
        let denied = pol.check(&facts(&a, Action::AuditExport, "192.0.2.7", day)).unwrap_err();
        assert!(denied.contains("exports-from-the-office"), "{denied}");
        assert_eq!(pol.check(&facts(&a, Action::KeysManage, "192.0.2.7", day)), Ok(()));
        assert!(pol.check(&facts(&a, Action::KeysManage, "192.0.2.7", night)).unwrap_err().contains("business-hours"));
        assert_eq!(pol.check(&facts(&a, Action::IntelImport, "192.0.2.7", night)), Ok(()));
        assert!(pol.check(&facts(&b, Action::IntelImport, "10.0.0.1", day)).is_err());
        assert_eq!(pol.check(&facts(&b, Action::ScanRun, "::1", night)), Ok(()));
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        assert!(Policies::parse("permit(principal, action, resource").unwrap_err().to_string().contains("unexpected"));
        assert!(Policies::parse("// nothing\n").unwrap_err().to_string().contains("no policies"));
    }
}
