import { Resolver } from "node:dns/promises";
import { invalid } from "@kumo/core";

/** Looks up TXT records: node's resolver in production, a fake in tests (which never query DNS). */
export type TxtResolver = (name: string) => Promise<string[][]>;

const NO_RECORD = new Set(["ENOTFOUND", "ENODATA", "NXDOMAIN"]);

/** Proves control of a hostname by a TXT record `_kumo-challenge.<hostname>` = `kumo-verify=<token>`. */
export class DomainVerifier {
  readonly #resolveTxt: TxtResolver;

  constructor(resolveTxt?: TxtResolver) {
    if (resolveTxt) {
      this.#resolveTxt = resolveTxt;
    } else {
      const resolver = new Resolver({ timeout: 5000, tries: 2 });
      this.#resolveTxt = (name) => resolver.resolveTxt(name);
    }
  }

  static challengeName(hostname: string): string {
    return `_kumo-challenge.${hostname}`;
  }

  static challengeValue(token: string): string {
    return `kumo-verify=${token}`;
  }

  /** Whether the record is there, and what TXT values were found instead (for the error message). */
  async check(hostname: string, token: string): Promise<{ verified: boolean; found: string[] }> {
    const name = DomainVerifier.challengeName(hostname);
    let records: string[][];
    try {
      records = await this.#resolveTxt(name);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === "string" && NO_RECORD.has(code)) return { verified: false, found: [] };
      throw invalid(
        `looking up the TXT record ${name} failed (${typeof code === "string" ? code : String(error)}); try again`,
      );
    }
    // A long TXT value arrives in 255-byte chunks; the value is their concatenation.
    const found = records.map((chunks) => chunks.join(""));
    return { verified: found.includes(DomainVerifier.challengeValue(token)), found };
  }
}
