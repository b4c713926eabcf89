// Package accessentry manages EKS access entries and their access policies
// through the EKS API (aws-sdk-go-v2 service/eks).
//
// # Validation
//
// [Validate] applies the service's rules locally, so a bad request fails with
// a clear message before any call: no system: groups, no reserved username
// prefixes, a ':' before {{SessionName}}, no groups, username or policies for
// node types, and partition-correct policy ARNs. Role paths are kept (access
// entries, unlike aws-auth, match them); an assumed-role ARN is converted to
// its role, with the reason.
//
// # Calls
//
// [Client] takes any [API], the SDK client's own method set, so the same code
// runs against EKS and against the local emulator. [Client.List] pages through
// ListAccessEntries with the SDK paginator and fetches each entry's details
// with bounded concurrency; [Client.Ensure] converges one entry and its
// policies, idempotently, reporting what it changed.
package accessentry
