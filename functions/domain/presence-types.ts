/** Presence: who is in a document, where their cursor is, what they have selected. */

export interface PresenceCursor {
  x: number;
  y: number;
}

export interface PresenceSelection {
  slideId: string;
  elementId?: string;
  range?: { start: number; end: number };
}

/** One user in one document (several tabs of one user are one member). */
export interface PresenceMember {
  userId: string;
  name: string;
  avatar?: string;
  /** `#RRGGBB` from PRESENCE_PALETTE, distinct within the document while the palette lasts. */
  color: string;
  cursor?: PresenceCursor;
  selection?: PresenceSelection;
  /** When the member was last heard from (ISO 8601). */
  lastSeen: string;
}

/** Colors that read well on a white slide, the seed's seven first. */
export const PRESENCE_PALETTE = [
  '#FF6B6B',
  '#4ECDC4',
  '#45B7D1',
  '#96CEB4',
  '#FECA57',
  '#FF9FF3',
  '#54A0FF',
  '#5F27CD',
  '#00D2D3',
  '#FF9F43',
  '#10AC84',
  '#EE5253',
  '#0ABDE3',
  '#C8D6E5',
  '#F368E0',
  '#222F3E',
] as const;

/**
 * The user's preferred color: a stable hash of the user id (FNV-1a, which spreads short ids
 * well, unlike the seed's sum of char codes) into the palette. The store walks on from there to
 * the next color no member of the document has, so colors stay distinct while the palette lasts.
 */
export function preferredColorIndex(userId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % PRESENCE_PALETTE.length;
}

/** The first palette color, from the user's preferred one on, that `taken` does not hold. */
export function pickColor(userId: string, taken: ReadonlySet<string>): string {
  const start = preferredColorIndex(userId);
  for (let i = 0; i < PRESENCE_PALETTE.length; i++) {
    const color = PRESENCE_PALETTE[(start + i) % PRESENCE_PALETTE.length] as string;
    if (!taken.has(color)) return color;
  }
  return PRESENCE_PALETTE[start] as string; // the palette is exhausted: share
}
