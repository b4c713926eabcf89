// Package difftest holds iammap's aws-auth resolution (awsauth.Decode, then
// mapping.Access.Identify in CONFIG_MAP mode) to aws-iam-authenticator
// v0.7.18's own code (package oracle): for an aws-auth's data and a caller
// as STS describes it, the set of outcomes EKS may give (mapped or not,
// refused or not, username, groups) must be the same on both sides.
//
// Everything is in the tests:
//
//   - TestDifferentialCorpus runs the cases of testdata/*.txtar (one file
//     per class of input; the format is in corpus_test.go) and the
//     authenticator's own aws-auth fixtures (testdata/authenticator), each
//     for the callers written in the case and those derived from its data
//     (harness_test.go: pool).
//   - FuzzDifferential fuzzes the three aws-auth keys and the choice of a
//     caller among those derived from them; it is seeded with the corpus,
//     so plain `go test` runs the seeds:
//     go test -run '^$' -fuzz FuzzDifferential -fuzztime 3m ./difftest
//
// Differences are deliberate (allowedDifferences, empty) or known iammap
// bugs (knownDifferences, known_test.go), which fail the tests unless
// IAMMAP_DIFF_ALLOW_KNOWN=1. IAMMAP_DIFF_ANY_CALLER=1 widens the callers to
// every ARN arn.Canonicalize accepts, including ones STS never returns: a
// way to explore, whose findings are not bugs by themselves.
package difftest
