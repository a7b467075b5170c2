// Package campaign runs a staged firmware rollout over many devices: which
// devices to start now, what each one is doing, when to pause, and the final
// report of who runs what.
//
// It holds no transport and no clock of its own. The caller (gridctl flash)
// asks Next for the devices to start, sends them the update command, feeds
// every FirmwareStatus to Update, calls Tick now and then for the per-device
// timeout, and reads Report at the end. Time comes from Options.Now.
//
// # Staging
//
// The first group (Options.FirstGroup devices, in target order) is started
// alone, at most Options.Parallel at a time. The rest starts only when the
// whole first group has finished and its failure rate is not above
// Options.FailureThreshold. From then on the failure rate failed/finished
// (failed and rolled-back devices over all finished ones, timeouts
// included) is checked after every finished device; above the threshold the
// campaign pauses: no new device starts, the ones in flight finish. Cancel
// stops the campaign at once: devices not started and devices in flight are
// reported as cancelled.
//
// Devices that already run the bundle's version are skipped (reported as
// such) unless Options.Force is set.
package campaign
