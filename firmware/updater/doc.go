// Package updater installs verified firmware bundles on a device into two
// slots (A/B), starts the new version on trial, and commits it only when it
// proves healthy — otherwise it rolls back by itself.
//
// # Layout on the device
//
//	ROOT/slots/a/       one installed version (the bundle's files)
//	ROOT/slots/b/       the other
//	ROOT/current        symlink to slots/a or slots/b: what systemd starts
//	ROOT/update.db      bbolt: highest accepted security version, the trial
//	                    in progress, versions that were rolled back, history
//
// # Steps, and what power loss at each leaves
//
//  1. Install verifies the bundle (signature against the root keys, target,
//     security version not below the highest accepted, sha256 of every
//     file) while extracting it into ROOT/slots/X.new, fsyncs files and
//     folders, then renames it over the inactive slot. Power loss here:
//     current still points at the running version; the half-written .new
//     folder is removed at the next Install.
//  2. It records the trial (new slot, previous slot, version, deadline,
//     starts 0) in update.db, then switches ROOT/current with an atomic
//     symlink rename and fsyncs ROOT. Power loss before the rename: the old
//     version starts, Boot sees current is not the trial slot and clears
//     the trial. After: the new version starts on trial, even when the
//     active slot was not yet written to update.db (the link is the truth:
//     State reads Active from it), so the next Install still goes to the
//     other slot.
//  3. The caller restarts into ROOT/current (re-exec, or exit and let
//     systemd restart it).
//  4. At every start the program calls Boot first. During a trial Boot
//     counts the start (written before anything else happens); past
//     MaxTrialStarts or the deadline it switches back to the previous slot,
//     records why, marks the bundle as rolled back (its version, security
//     version and file sha256) and tells the caller to restart. Install
//     refuses that bundle again (no re-download loop), but takes a
//     re-release of its version string: another bundle (a fix, signed
//     anew), or one with a higher security version (State.WasRolledBack).
//  5. When the program is healthy (started, connected to the broker, its
//     hardware self-test passed), it calls Commit: the trial ends and the
//     security version becomes the new floor for anti-rollback.
//
// A crash loop of the new version (it dies before Commit) therefore ends
// after MaxTrialStarts starts on the previous version; a hang is ended by
// the systemd watchdog, which restarts it, with the same result; a version
// that runs but never becomes healthy is rolled back at the deadline.
package updater
