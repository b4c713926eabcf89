// Package devstack runs a real Kubernetes control plane on 127.0.0.1 for
// iammap's demo and integration tests: etcd and kube-apiserver built from Go
// modules (see tools/kube), with the RBAC authorizer and static bearer tokens,
// so every request iammap makes is authenticated, authorised and stored
// exactly as on a real cluster. Nothing is faked and nothing leaves the
// machine.
//
// [Start] launches the processes and waits until the API server is ready;
// [Cluster.Stop] ends them. [Cluster.WriteState] and [Load] let `make up` and
// `make down` hand a running stack from one command to the next.
//
// With [EKSOptions] a stack is one local EKS account: the EKS emulator, IAM,
// an STS and the token webhook. Stacks started with one shared credential
// registry (EKSOptions.Credentials) and different accounts stand for an
// organisation: a role assumed through one stack's STS (EKSOptions.Roles)
// is a caller of the role's account at every stack, and with CheckCallers
// each EKS emulator serves only its own account's callers.
package devstack
