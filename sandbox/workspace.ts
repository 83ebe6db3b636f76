// The sandbox workspace: who is in it and what the fake Slack knows about them.

export interface DemoUser {
  id: string;
  /** Display name shown on the page and in mentions. */
  name: string;
  handle: string;
  role: string;
}

export const DEMO_USERS: readonly DemoUser[] = [
  { id: 'U0REQUESTER', name: 'Riley Requester', handle: 'riley', role: 'on-call engineer' },
  { id: 'U0APPROVER', name: 'Alex Approver', handle: 'alex', role: 'DBA' },
  { id: 'U0BYSTANDER', name: 'Sam Bystander', handle: 'sam', role: 'developer' },
];

/** users.info fields for the fake (merged over its synthetic answer). */
export function fakeUsers(): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    DEMO_USERS.map((u) => [u.id, { name: u.handle, real_name: u.name, profile: { real_name: u.name, display_name: u.handle, title: u.role } }]),
  );
}
