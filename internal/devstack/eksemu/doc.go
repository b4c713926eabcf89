// Package eksemu is a local emulator of the Amazon EKS API for iammap's demo
// and tests. It speaks the service's REST-JSON wire format (paths, percent-
// encoded ARN labels, epoch-second timestamps, x-amzn-ErrorType errors, the
// service's messages), so the real aws-sdk-go-v2 client and the AWS CLI
// (--endpoint-url) talk to it unchanged.
//
// It covers DescribeCluster, UpdateClusterConfig (authentication mode, one
// way only, as an asynchronous update), DescribeUpdate, the eight
// access-entry and access-policy operations, ListAccessPolicies, and
// DescribeClusterVersions (a fixed list, ClusterVersions), with the
// service's validation rules and pagination. Latency and a share of
// ThrottlingException answers can be injected for tests and benchmarks.
// With Options.Credentials it also checks who calls, as EKS does: a SigV4
// signature by a registered key (UnrecognizedClientException,
// InvalidSignatureException otherwise), and a caller of the emulator's
// account, since another account's cluster is not found by name.
package eksemu
