// VectorSupport: whether the cpu backend may use the Java Vector API kernels here, and if not, why.
package bptt.backend.cpu;

import com.sun.management.HotSpotDiagnosticMXBean;

import java.lang.management.ManagementFactory;

/**
 * The Vector API is an incubator module in Java 17: its classes exist only when the JVM starts
 * with {@code --add-modules jdk.incubator.vector} (scripts/bptt and the tests do). Without it,
 * or with {@code -Dbptt.cpu.vector=false}, the backend computes the recurrent step with OpenBLAS
 * and plain loops instead: the same results within the tolerances, slower at small batch.
 * This class never touches the module itself, so it loads either way.
 */
final class VectorSupport {
    private VectorSupport() { }

    private static final String REASON = probe();

    /** Null when {@link VectorKernels} can run and pays here, else why not. */
    static String unavailableReason() { return REASON; }

    private static String probe() {
        if ("false".equalsIgnoreCase(System.getProperty("bptt.cpu.vector"))) {
            return "disabled by -Dbptt.cpu.vector=false";
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return "start the JVM with --add-modules jdk.incubator.vector (scripts/bptt does)";
        }
        if (!hardwareFma()) {
            return "the JVM does not use FMA instructions on this CPU";
        }
        if (VectorKernels.LANES < 8) {
            return "vectors of " + VectorKernels.LANES + " floats are too narrow to pay";
        }
        return null;
    }

    /** -XX:+UseFMA: without it FloatVector.fma is emulated, orders of magnitude slower. */
    private static boolean hardwareFma() {
        try {
            HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            return vm != null && "true".equals(vm.getVMOption("UseFMA").getValue());
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** One line for device descriptions: the kernels in use. */
    static String describe(boolean enabled) {
        if (enabled) {
            return "Vector API kernels (" + VectorKernels.LANES + " floats per vector)";
        }
        return "plain Java loops (" + (REASON == null ? "vector kernels switched off" : REASON) + ")";
    }
}
