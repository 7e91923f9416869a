// The request executor the provider wrappers share.
