/**
 * The subscription members open on a store's connections, so that closing
 * the store closes them first: their leases are released and their progress
 * written while the connections are still there.
 *
 * @module
 */

/** What the store needs of an open member. */
export interface ClosableMember {
  /**
   * Closes the member on the store's behalf, or waits for a close already
   * under way. Never rejects: a failure goes to the member's `onError`.
   */
  closeWithStore(): Promise<void>;
}

/**
 * The open members of one store and of its views (tenants, other schemas):
 * they share its connections, so the store that owns them closes them.
 */
export class OpenMembers {
  readonly #members = new Set<ClosableMember>();

  /**
   * Registers a member that has just opened.
   *
   * @param member The member.
   */
  add(member: ClosableMember): void {
    this.#members.add(member);
  }

  /**
   * Forgets a member whose close has ended.
   *
   * @param member The member.
   */
  delete(member: ClosableMember): void {
    this.#members.delete(member);
  }

  /**
   * Closes every open member, at the same time, and waits for them all.
   * Their failures go to their own `onError`; this never rejects.
   */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#members].map((member) => member.closeWithStore()));
  }
}
