// DialCLIP module.
