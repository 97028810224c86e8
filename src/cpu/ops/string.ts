// Placeholder: filled in by the string family (see src/cpu/table.ts).
export function installString(): void { /* rows defined here */ }
