// OpenClBackendTest: OpenCL-specific behaviour: build errors carry the log, device numbering, kernel ops named as Backend methods.
package bptt.backend.opencl;

import bptt.backend.Backend;
import bptt.backend.BackendUnavailableException;
import bptt.backend.DeviceSteps;
import bptt.backend.KernelCalls;
import bptt.backend.KernelSource;
import bptt.conformance.TestBackends;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OpenClBackendTest {

    /** Skips (or fails, when required) on a machine without OpenCL. */
    private static void requireOpenCl() {
        TestBackends.open("opencl");
    }

    /**
     * The kernels are launched through KernelCalls, whose ops are named as the Backend (or
     * DeviceSteps) methods they implement; every kernel op of the Backend has one (KernelCallTest
     * shows every kernel is launched by some op).
     */
    @Test
    void everyKernelOpIsABackendMethodAndBack() {
        Set<String> backend = names(Backend.class);
        Set<String> deviceSteps = names(DeviceSteps.class);
        Set<String> ops = Arrays.stream(KernelCalls.class.getDeclaredMethods())
                .filter(m -> Modifier.isPublic(m.getModifiers()) && !Modifier.isStatic(m.getModifiers()))
                .map(Method::getName).collect(Collectors.toSet());
        for (String op : ops) {
            assertTrue(backend.contains(op) || deviceSteps.contains(op) || op.equals("setStepScalars"),
                    "KernelCalls." + op + " is neither a Backend nor a DeviceSteps method");
        }
        for (String m : List.of("fill", "copy", "axpy", "scale", "biasTanh", "tanhBackward", "tanhCellBackward",
                "lstmCellForward", "lstmCellBackward", "gruCellForward", "gruCellBackward", "sumRows",
                "softmaxCrossEntropy", "gatherColumns", "scatterAddColumns", "sumOfSquares", "sgdUpdate",
                "adamUpdate", "adagradUpdate", "clipScale")) {
            assertTrue(ops.contains(m), "no kernel op for " + m);
        }
    }

    private static Set<String> names(Class<?> type) {
        return Arrays.stream(type.getMethods()).map(Method::getName).collect(Collectors.toSet());
    }

    @Test
    void kernelSourceComesFromTheClassPathWithThePrelude() {
        String source = KernelSource.source(KernelSource.Api.OPENCL);
        assertTrue(source.contains("#define KERNEL __kernel"), "OpenCL prelude missing");
        assertTrue(source.contains("#line 1 \"" + KernelSource.BODIES + "\""));
        assertTrue(KernelSource.source(KernelSource.Api.CUDA).contains("extern \"C\" __global__"));
    }

    @Test
    void aKernelCompileErrorCarriesTheBuildLog() {
        requireOpenCl();
        String broken = KernelSource.source(KernelSource.Api.OPENCL)
                .replace("x[xOff + i] = value;", "x[xOff + i] = undeclared_in_fill;");
        var e = assertThrows(BackendUnavailableException.class, () -> OpenClBackend.open(-1, broken).close());
        assertTrue(e.getMessage().contains("build log"), e.getMessage());
        assertTrue(e.getMessage().contains("undeclared_in_fill"), "the log should name the error: " + e.getMessage());
    }

    @Test
    void aMissingDeviceIsAUserError() {
        requireOpenCl();
        int count = OpenClDevices.list().size();
        var e = assertThrows(IllegalArgumentException.class, () -> OpenClBackend.open(count).close());
        assertTrue(e.getMessage().contains("bptt devices"), e.getMessage());
    }

    @Test
    void devicesAreNumberedAcrossPlatformsAndTheDefaultPrefersAGpu() {
        requireOpenCl();
        List<OpenClDevices.Device> devices = OpenClDevices.list();
        for (int i = 0; i < devices.size(); i++) {
            assertEquals(i, devices.get(i).index());
            assertTrue(devices.get(i).computeUnits() > 0 && devices.get(i).globalMemBytes() > 0);
        }
        int chosen = OpenClDevices.defaultIndex(devices);
        boolean anyGpu = devices.stream().anyMatch(OpenClDevices.Device::gpu);
        assertEquals(anyGpu, devices.get(chosen).gpu());
        assertEquals(anyGpu, new OpenClProvider().preferredForAuto());
        assertEquals(devices.size(), new OpenClProvider().devices().size());
    }
}
