/**
 * Permission names as Senseye spells them, and the one way to compare them.
 * hub-api.md: compare case- and separator-insensitively ("internal_hub_write" matches
 * "Internal Hub Write"), so a token minted by any tool is read the same way.
 */
export const PERMISSION = {
  hubWrite: 'Internal Hub Write',
  hubCreate: 'Internal Hub Create',
  externalIdRead: 'External ID Read',
  externalIdWrite: 'External ID Write',
} as const;

export type PermissionName = (typeof PERMISSION)[keyof typeof PERMISSION];

/** "Internal Hub Write", "internal_hub_write", "INTERNAL-HUB-WRITE" all normalise to "internalhubwrite". */
export function normalizePermission(name: string): string {
  return name.toLowerCase().replace(/[\s_\-.:]+/g, '');
}

export function hasPermission(granted: readonly string[], wanted: string): boolean {
  const target = normalizePermission(wanted);
  return granted.some((p) => normalizePermission(p) === target);
}

/** Short names used on command lines (`--permissions write,create`) mapped to full names. */
const SHORT_NAMES: Record<string, PermissionName> = {
  write: PERMISSION.hubWrite,
  create: PERMISSION.hubCreate,
  'external-id-read': PERMISSION.externalIdRead,
  'external-id-write': PERMISSION.externalIdWrite,
};

/** Parses "write,create" (or full names) into permission names; unknown names pass through unchanged. */
export function parsePermissionList(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => SHORT_NAMES[s.toLowerCase()] ?? s);
}
