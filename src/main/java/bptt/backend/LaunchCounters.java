// LaunchCounters: what a device backend counts of the work it issues (bench's launches_per_step and host_us_per_step).
package bptt.backend;

/**
 * Counters a device backend keeps from the moment it opens; a benchmark reads them before and
 * after the steps it times. Host time per step is then the step's wall time less
 * {@link #waitNanos}: what the host spent issuing work rather than waiting for the device.
 */
public interface LaunchCounters {
    /** Kernels and GEMMs the device has run or has queued, those replayed from CUDA graphs included. */
    long deviceLaunches();

    /** Launch calls the host has made: kernels, GEMMs and graph launches (a replayed graph counts once). */
    long hostLaunches();

    /** Nanoseconds the host has spent blocked on the device: synchronizations and synchronous copies. */
    long waitNanos();
}
