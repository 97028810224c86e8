// Placeholder: filled in by the muldiv family (see src/cpu/table.ts).
export function installMulDiv(): void { /* rows defined here */ }
