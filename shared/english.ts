/** `1 dataset`, `2 datasets`: a count with its noun in the right number (nouns that add "s"). */
export const counted = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;
