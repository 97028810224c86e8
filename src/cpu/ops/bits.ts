// Placeholder: filled in by the bits family (see src/cpu/table.ts).
export function installBits(): void { /* rows defined here */ }
