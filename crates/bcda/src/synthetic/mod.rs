//! The deterministic synthetic Medicare world: beneficiaries, attribution
//! history, opt-outs, and their FHIR resources (STU3 and R4), generated
//! procedurally from a seed.
