// DCAR module.
