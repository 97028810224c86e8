// Placeholder: filled in by the shift family (see src/cpu/table.ts).
export function installShift(): void { /* rows defined here */ }
