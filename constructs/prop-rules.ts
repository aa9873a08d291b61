/**
 * The checks of a construct's optional props, as data: each construct states its limits once (next
 * to its defaults), and two callers apply them: the config loader, before any construct exists, so
 * a bad value stops synth with the config key named (`config dataproc.masterDiskSizeGb = 3: ...`),
 * and the construct itself, for direct callers (tests, scripts).
 */

/** What one prop may be. */
export type PropRule =
  /** A whole number within [min, max], and one of `oneOf` when given. */
  | { readonly kind: "int"; readonly min: number; readonly max: number; readonly oneOf?: readonly number[] }
  | { readonly kind: "bool" }
  /** One of a fixed set of strings. */
  | { readonly kind: "enum"; readonly values: readonly string[] }
  /**
   * A Yandex Cloud name the provider takes as is (resource preset, disk type, platform, image
   * family): lower-case letters, digits, '.', '-', '_', starting with a letter, at most 63 characters.
   */
  | { readonly kind: "cloudName" }
  /** A check of its own: returns what is wrong, or undefined. */
  | { readonly kind: "check"; readonly problem: (value: unknown) => string | undefined };

/** The rules of some of a props type's keys. */
export type PropRules<P> = { readonly [K in keyof P]?: PropRule };

/** What is wrong with `value` under `rule` (a phrase to follow the value), or undefined if it is fine. */
export function propRuleProblem(rule: PropRule, value: unknown): string | undefined {
  switch (rule.kind) {
    case "int":
      if (typeof value !== "number" || !Number.isInteger(value) || value < rule.min || value > rule.max) {
        return `must be a whole number from ${rule.min} to ${rule.max}`;
      }
      if (rule.oneOf && !rule.oneOf.includes(value)) return `must be ${rule.oneOf.slice(0, -1).join(", ")} or ${rule.oneOf[rule.oneOf.length - 1]}`;
      return undefined;
    case "bool":
      return typeof value === "boolean" ? undefined : "must be true or false";
    case "enum":
      return typeof value === "string" && rule.values.includes(value) ? undefined : `must be one of ${rule.values.join(", ")}`;
    case "cloudName":
      return typeof value === "string" && /^[a-z][a-z0-9._-]{0,62}$/.test(value)
        ? undefined
        : "must be a Yandex Cloud name: a-z, 0-9, '.', '_', '-', starting with a letter, at most 63 characters";
    case "check":
      return rule.problem(value);
  }
}

/**
 * Throws on the first prop that breaks its rule (props left undefined take the construct's default,
 * which the defaults test checks against these rules).
 *
 * @param owner names the construct in the message (`mlflow backend`, the VM's name, ...)
 */
export function checkProps<P extends object>(owner: string, props: P, rules: PropRules<P>): void {
  for (const [key, rule] of Object.entries(rules) as [string, PropRule][]) {
    const value = (props as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const problem = propRuleProblem(rule, value);
    if (problem) throw new Error(`${owner}: ${key} = ${JSON.stringify(value)}: ${problem}`);
  }
}
