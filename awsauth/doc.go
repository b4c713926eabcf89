// Package awsauth reads and edits the kube-system/aws-auth ConfigMap without
// losing anything it does not understand.
//
// # Decoding
//
// [Decode] reads mapRoles and mapUsers exactly as aws-iam-authenticator does
// (YAML to JSON, then case-insensitive field names, unknown fields ignored)
// and mapAccounts keeping each id's original text, so leading zeros survive.
// A key that does not parse is reported through [Document.Err] and is never
// rewritten; the other keys stay readable and editable.
//
// # Editing
//
// Edits are made on the key's text, not by re-encoding it: an appended entry
// is added after the last one with the same indentation, and a removed entry's
// lines are cut out. Every other entry, with its sso block, userid, comments
// and unknown fields, stays byte-identical, and keys that were not edited are
// not touched at all. After each edit the key is decoded again and compared
// with what was intended; any difference aborts the edit.
//
// # Writing
//
// [Store] reads and writes the ConfigMap through a narrow client-go
// ConfigMapInterface. Each write is conditional on the resourceVersion that
// was read; on a conflict it re-reads and re-applies the change, so
// concurrent writers never lose each other's entries.
package awsauth
