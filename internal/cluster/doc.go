// Package cluster is what iammap does to one cluster, below the command
// line: it connects, decides which mechanism a read or write goes to,
// guards writes against lockouts, plans and converges both mechanisms, and
// moves the authentication mode. The command layer (internal/app) parses
// flags, makes one call here and renders what comes back; this package
// prints nothing.
//
// # Connecting
//
// A [Target] is a cluster reached by its EKS name ([Connect] with
// Options.Cluster, or [FromEKS]) or through a kubeconfig alone ([Connect]
// without a name, or [FromKubeconfig]). Its [Target.Mode] is the
// authentication mode EKS reports, or [mapping.ModeKubeconfig] when EKS
// cannot be asked; everything below follows from that mode.
//
//	t, err := cluster.Connect(ctx, cluster.Options{Cluster: "prod", Region: "eu-west-1"})
//	...
//	res, err := t.Create(ctx, cluster.CreateRequest{...}, reporter)
//
// # Routing
//
// [RouteCreate], [RouteDelete] and [ReadBackends] are the one place that maps an
// authentication mode and a --backend choice to aws-auth, access entries or
// both. All three are pure functions of their arguments.
//
// # Guarding
//
// Every write is checked by internal/guard over two [mapping.Access]
// states, before and after: [Target.Guard] reads what the check needs and
// [Guard] compares. A refusal wraps guard.ErrRefused; force lets it through.
//
// # Writing
//
// [Target.Create] and [Target.Delete] make one change, through aws-auth or
// access entries as routed. [Converge] plans a cluster against an access
// file across both mechanisms and, when asked, applies the plan.
// [MoveAuthMode] moves the authentication mode one step and can wait for
// EKS to finish.
//
// # Reporting
//
// Results come back as values for the caller to render. What happens on
// the way (notes, warnings, progress) goes to a [Reporter]; [Discard]
// drops it.
package cluster
