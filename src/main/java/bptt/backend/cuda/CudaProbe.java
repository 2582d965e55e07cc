// CudaProbe: finds out, without ever throwing, whether JCuda's natives, the driver, NVRTC, cuBLAS and a GPU are here.
package bptt.backend.cuda;

import jcuda.CudaException;
import jcuda.driver.CUdevice;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.JCublas2;
import jcuda.nvrtc.JNvrtc;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR;

/**
 * JCuda 12.6 loads one JNI library per API, unpacked from its natives jar to java.io.tmpdir:
 * libJCudaDriver links libcuda.so.1 (the NVIDIA driver), libJNvrtc links libnvrtc.so.12 and
 * libJCublas2 links libcublas.so.12 (CUDA 12.x toolkit). A missing one surfaces as an
 * UnsatisfiedLinkError whose text names the .so; later uses of the class give
 * NoClassDefFoundError. This class loads each in turn, catches those at the edge, and says
 * which piece is missing and how to get it. The result is computed once per JVM.
 */
final class CudaProbe {
    private CudaProbe() { }

    /** Set to 1 to let the cuda backend run on bptt's CUDA emulator (the test build's libcuda.so.1). */
    static final String EMULATOR_VARIABLE = "BPTT_CUDA_EMULATOR";

    /** One GPU as the driver reports it. */
    record Device(int ordinal, String name, int major, int minor, long totalBytes) {
        String describe() {
            return ordinal + ": " + name + " (sm_" + major + minor + ", " + CudaErrors.bytes(totalBytes) + ")"
                    + (emulated() ? " [emulated on the host: not a GPU]" : "");
        }

        /** bptt's test emulator names its devices "bptt CUDA emulator (...)"; no GPU has that word in its name. */
        boolean emulated() { return name.toLowerCase(Locale.ROOT).contains("emulator"); }
    }

    /** Available with devices and versions, or the reason it is not. */
    record Result(boolean available, String reason, List<Device> devices, int driverVersion) {
        /** True when the devices are bptt's emulator, which {@code auto} must never pick. */
        boolean emulated() { return devices.stream().anyMatch(Device::emulated); }
    }

    private static Result cached;

    static synchronized Result get() {
        if (cached == null) {
            cached = run();
        }
        return cached;
    }

    private static Result run() {
        List<String> missing = new ArrayList<>();
        tryLoad(missing, () -> JCudaDriver.setExceptionsEnabled(false));
        tryLoad(missing, () -> JNvrtc.setExceptionsEnabled(false));
        tryLoad(missing, () -> JCublas2.setExceptionsEnabled(false));
        if (!missing.isEmpty()) {
            return no(String.join("; ", new LinkedHashSet<>(missing)) + otherToolkitsNote());
        }
        try {
            int init = JCudaDriver.cuInit(0);
            if (init != CUresult.CUDA_SUCCESS) {
                return no(init == CUresult.CUDA_ERROR_NO_DEVICE
                        ? "no CUDA device: the driver is installed but sees no GPU (check nvidia-smi and CUDA_VISIBLE_DEVICES)"
                        : "cuInit failed: " + CUresult.stringFor(init) + CudaErrors.driverText(init)
                        + CudaErrors.hint(init));
            }
            int[] version = new int[1];
            CudaErrors.check(JCudaDriver.cuDriverGetVersion(version), "cuDriverGetVersion");
            if (version[0] < 12000) {
                return no("the NVIDIA driver supports CUDA " + cudaVersion(version[0]) + ", but bptt's JCuda 12.6 needs"
                        + " CUDA 12: install driver 525.60 or newer");
            }
            int[] count = new int[1];
            CudaErrors.check(JCudaDriver.cuDeviceGetCount(count), "cuDeviceGetCount");
            if (count[0] == 0) {
                return no("no CUDA device: the driver is installed but sees no GPU (check nvidia-smi)");
            }
            List<Device> devices = new ArrayList<>();
            for (int i = 0; i < count[0]; i++) {
                devices.add(device(i));
            }
            if (devices.stream().anyMatch(Device::emulated) && !"1".equals(System.getenv(EMULATOR_VARIABLE))) {
                return no("the libcuda.so.1 on the library path is bptt's CUDA emulator (" + devices.get(0).name()
                        + "), not an NVIDIA driver: it runs the cuda backend on the CPU for tests. Set "
                        + EMULATOR_VARIABLE + "=1 to use it, or take it off LD_LIBRARY_PATH");
            }
            boolean emulated = devices.stream().anyMatch(Device::emulated);
            return new Result(true, "CUDA " + cudaVersion(version[0]) + (emulated ? " driver EMULATED on the host"
                    + " (" + EMULATOR_VARIABLE + "=1; never chosen by auto), " : " driver, ") + devices.size()
                    + " device(s)", List.copyOf(devices), version[0]);
        } catch (LinkageError | CudaException | CudaErrors.CudaFailure e) {
            return no(explain(e));
        }
    }

    static Device device(int ordinal) {
        CUdevice dev = new CUdevice();
        CudaErrors.check(JCudaDriver.cuDeviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
        byte[] name = new byte[256];
        CudaErrors.check(JCudaDriver.cuDeviceGetName(name, name.length, dev), "cuDeviceGetName");
        int len = 0;
        while (len < name.length && name[len] != 0) {
            len++;
        }
        int[] major = new int[1];
        int[] minor = new int[1];
        CudaErrors.check(JCudaDriver.cuDeviceGetAttribute(major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev),
                "cuDeviceGetAttribute");
        CudaErrors.check(JCudaDriver.cuDeviceGetAttribute(minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev),
                "cuDeviceGetAttribute");
        long[] total = new long[1];
        CudaErrors.check(JCudaDriver.cuDeviceTotalMem(total, dev), "cuDeviceTotalMem");
        return new Device(ordinal, new String(name, 0, len, StandardCharsets.UTF_8), major[0], minor[0], total[0]);
    }

    private static Result no(String reason) { return new Result(false, reason, List.of(), 0); }

    private static void tryLoad(List<String> missing, Runnable load) {
        try {
            load.run();
        } catch (LinkageError | CudaException e) {
            missing.add(explain(e));
        }
    }

    /** "12.4" from the driver's 12040. */
    static String cudaVersion(int v) { return v / 1000 + "." + (v % 1000) / 10; }

    private static final Pattern CANNOT_OPEN = Pattern.compile("([\\w.+-]+\\.so[.\\d]*): cannot open shared object file");
    private static final Pattern UNDEFINED = Pattern.compile("undefined symbol: (\\w+)");
    private static final Pattern NOT_IN_PATH = Pattern.compile("no (J\\w+)-[\\d.]+-([\\w-]+) in java\\.library\\.path");

    /** The reason a JCuda library failed to load or initialise, from the throwable's message chain. */
    static String explain(Throwable t) {
        StringBuilder text = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            text.append(c).append('\n');
        }
        return explain(text.toString());
    }

    /** The reason for a JCuda load failure, from the text of the error (pure; see {@link #explain(Throwable)}). */
    static String explain(String message) {
        Set<String> reasons = new LinkedHashSet<>();
        Matcher open = CANNOT_OPEN.matcher(message);
        while (open.find()) {
            String lib = open.group(1);
            if (!lib.startsWith("libJ")) {
                reasons.add(missingLibrary(lib));
            }
        }
        Matcher undefined = UNDEFINED.matcher(message);
        while (undefined.find()) {
            reasons.add("the installed CUDA libraries lack " + undefined.group(1) + ": they are older than JCuda 12.6"
                    + " needs; install NVIDIA driver 525.60 or newer and a CUDA 12.x toolkit with cuBLAS");
        }
        if (reasons.isEmpty()) {
            Matcher path = NOT_IN_PATH.matcher(message);
            if (path.find() && !message.contains("as a resource")) {
                reasons.add("JCuda has no native library " + path.group(1) + " for " + path.group(2)
                        + ": bptt's cuda backend runs on linux-x86_64 (and windows-x86_64) only");
            }
        }
        if (reasons.isEmpty()) {
            if (message.contains("NoClassDefFoundError") && message.contains("jcuda")) {
                reasons.add("JCuda failed to initialise earlier in this run (" + firstLine(message) + ")");
            } else {
                reasons.add("JCuda failed to load: " + firstLine(message));
            }
        }
        return String.join("; ", reasons);
    }

    /** What a missing CUDA shared library is and how to get it. */
    static String missingLibrary(String lib) {
        String base = lib.replaceAll("\\.so.*", "");
        return switch (base) {
            case "libcuda" -> lib + " not found: the NVIDIA driver is not installed (install driver 525.60 or newer"
                    + " for CUDA 12 and check that nvidia-smi works)";
            case "libcublas", "libcublasLt" -> lib + " not found: install the CUDA 12.x toolkit with cuBLAS (e.g."
                    + " apt install cuda-toolkit-12-6, or libcublas-12-6) and put its lib64 on LD_LIBRARY_PATH";
            case "libnvrtc" -> lib + " not found: install the CUDA 12.x runtime compiler NVRTC (part of the CUDA 12.x"
                    + " toolkit, e.g. apt install cuda-nvrtc-12-6) and put its lib64 on LD_LIBRARY_PATH";
            case "libcudart" -> lib + " not found: install the CUDA 12.x toolkit and put its lib64 on LD_LIBRARY_PATH";
            default -> lib + " not found: install the CUDA 12.x toolkit with cuBLAS and the NVIDIA driver";
        };
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).trim();
    }

    /** A note when CUDA toolkits of another major version sit in /usr/local (they do not provide the .so.12 files). */
    private static String otherToolkitsNote() {
        File[] dirs = new File("/usr/local").listFiles((d, n) -> n.matches("cuda-\\d+\\.\\d+"));
        List<String> others = new ArrayList<>();
        if (dirs != null) {
            for (File d : dirs) {
                if (!d.getName().startsWith("cuda-12.")) {
                    others.add(d.getPath());
                }
            }
        }
        others.sort(null);
        return others.isEmpty() ? "" : String.format(Locale.ROOT, " (found %s: JCuda 12.6 needs the CUDA 12.x"
                + " libraries, which install side by side)", String.join(", ", others));
    }
}
