// Package device is the device side of a firmware update, shared by
// sensord and the kiosk: it ties the transfer of a bundle over MQTT
// (package firmware/transfer), its verification and A/B install (packages
// firmware/bundle and firmware/updater), the trial of the new version and
// the status reports together.
//
// # Life of an update
//
//  1. The hub (or gridctl) sends the "update" command with a transfer.Offer
//     in its args (version, security version, sha256 of the bundle).
//     HandleCommand refuses an offer of a bundle that was rolled back on
//     this device (no re-download loop; see updater.State.WasRolledBack:
//     a re-release of the same version string as another bundle, or with
//     a higher security version, is taken), of a security version below
//     the one it accepted, or of the version that runs already; otherwise
//     the Receiver, run by Run, asks for the blocks on
//     DeviceTopic(dev, "fwreq") and receives them on DeviceTopic(dev, "fw")
//     (Subscriptions). The bitmap of received blocks is kept in the
//     device's bbolt file, so a transfer resumes after a disconnect or a
//     reboot; the whole file is re-hashed at the end.
//  2. The assembled bundle is checked (signature against the root keys,
//     target, security version, every file's sha256, and that it holds
//     this program) and installed into the inactive slot. A refusal is
//     reported with the bundle's reason ("bad signature — possible attack")
//     and changes nothing.
//  3. The program restarts into the new version (Options.Exec). At its
//     start Boot counts the trial start; the program calls Healthy once it
//     is started, connected and its hardware self-test passed, which
//     commits the version. Unhealthy, or the trial deadline passing first,
//     rolls back to the previous version and restarts into it.
//
// Every state change is published, retained, as a contract.FirmwareStatus
// on DeviceTopic(dev, "fwstatus"): offered, downloading {count, of},
// verifying, installing, trial, committed, rolled-back or failed with the
// reason. The last status is kept in bbolt and published again after a
// restart, so the outcome of a trial that ended in a restart is reported.
//
// # Without the hub
//
// InstallFile installs a bundle file (the `sensord install` command); the
// USB watcher installs a newer bundle found on an inserted stick under
// Options.USBDirs, once per bundle; and Handler serves POST /update with
// the bundle as the body for `gridctl flash --local` (the bundle's
// signature is the authorisation; Options.Token adds a shared secret).
package device
