// OpenClBackendTest: OpenCL-specific behaviour: build errors carry the log, device numbering, kernel/method mapping.
package bptt.backend.opencl;

import bptt.backend.Backend;
import bptt.backend.BackendUnavailableException;
import bptt.backend.KernelSource;
import bptt.conformance.TestBackends;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
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

    @Test
    void everyKernelMapsToABackendMethodAndBack() {
        Set<String> methods = Arrays.stream(Backend.class.getMethods()).map(Method::getName).collect(Collectors.toSet());
        List<String> kernels = KernelSource.kernelNames();
        for (String k : kernels) {
            String base = k.equals("sum_of_squares_final") ? "sum_of_squares" : k;
            assertTrue(methods.contains(camel(base)), "kernel " + k + " has no Backend method " + camel(base));
        }
        for (String m : List.of("fill", "copy", "axpy", "scale", "biasTanh", "tanhBackward", "sumRows",
                "softmaxCrossEntropy", "meanSquaredError", "gatherColumns", "scatterAddColumns", "sumOfSquares", "sgdUpdate",
                "adamUpdate", "adagradUpdate")) {
            assertTrue(kernels.stream().anyMatch(k -> camel(k).equals(m)), "no kernel for Backend." + m);
        }
    }

    private static String camel(String snake) {
        StringBuilder s = new StringBuilder();
        boolean up = false;
        for (char c : snake.toCharArray()) {
            if (c == '_') {
                up = true;
            } else {
                s.append(up ? Character.toUpperCase(c) : c);
                up = false;
            }
        }
        return s.toString();
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
