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
//
// When the reply to a write is lost (a reset connection, an HTTP/2 stream
// error, a 5xx, a cancelled context), Modify re-reads aws-auth to learn
// whether the write landed, since the write was conditional on the
// resourceVersion read: a new resourceVersion holding exactly the data
// written means applied (Result.ReplyLost), the old resourceVersion means
// not applied ([ErrNotApplied]), and anything else is [ErrOutcomeUnknown].
//
// # Backups
//
// Before each write the content it replaces is saved (see [BackupTo]): by
// default as a ConfigMap aws-auth-iammap-backup-* in kube-system, annotated
// with the sha256 of its data, the resourceVersion it copied, the time and,
// when known, the writer. [Store.Backups] orders backups by the
// creationTimestamp the API server set, not by anything a client wrote, and
// marks as unverified any whose hash, recorded time or field managers do
// not match (see [Backup.Problem]). A backup is deleted only when its write
// certainly did not happen, and that clean-up runs on a fresh bounded
// context, so an interrupt leaves no orphan. Pruning keeps the newest
// verified backups and never deletes or counts unverified ones.
package awsauth
