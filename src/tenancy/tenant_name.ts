/**
 * Tenant names and the schemas they live in.
 *
 * @module
 */

/** The rule for tenant names: lowercase letters, digits and `_`, 1 to 48 characters. */
export const TENANT_NAME_PATTERN: RegExp = /^[a-z0-9_]{1,48}$/;

/** The prefix of every tenant schema. */
export const TENANT_SCHEMA_PREFIX = "tenant_";

/**
 * Validates a tenant name; never rewrites it.
 *
 * @param name The candidate.
 * @returns The same name.
 * @throws {TypeError} Naming the rule, when the name breaks it.
 */
export function validateTenantName(name: unknown): string {
  if (typeof name !== "string" || !TENANT_NAME_PATTERN.test(name)) {
    throw new TypeError(
      `Invalid tenant name ${JSON.stringify(name)}: use 1 to 48 lowercase letters, digits or ` +
        `underscores (${TENANT_NAME_PATTERN})`,
    );
  }
  return name;
}

/**
 * The schema of a tenant: `tenant_<name>`.
 *
 * @param name A tenant name.
 * @returns The schema name.
 * @throws {TypeError} When the name is invalid.
 */
export function tenantSchema(name: string): string {
  return TENANT_SCHEMA_PREFIX + validateTenantName(name);
}
