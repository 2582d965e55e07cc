// OpenClDevices: finds OpenCL platforms and devices (JOCL) and explains, without throwing, why none can run.
package bptt.backend.opencl;

import bptt.backend.BackendProvider.Availability;
import org.jocl.CL;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Device numbering: platforms in the order the ICD loader reports them (clGetPlatformIDs), and
 * within each platform its devices of every type in clGetDeviceIDs order; the index runs across
 * all platforms from 0. This is the order {@code bptt devices} prints and {@code --device N} uses.
 */
public final class OpenClDevices {
    /** What to install when nothing is found. */
    static final String INSTALL_HINT = "install an OpenCL ICD loader and a driver, e.g. "
            + "'apt-get install ocl-icd-libopencl1 pocl-opencl-icd' (PoCL runs OpenCL on the CPU)";

    private OpenClDevices() { }

    /** One OpenCL device with the facts {@code devices} prints. */
    public record Device(int index, cl_platform_id platform, cl_device_id id, String platformName,
                         String platformVersion, String name, String type, boolean gpu,
                         long globalMemBytes, long maxAllocBytes, int computeUnits, String version) {

        /** One line: index, platform, name, type, memory, compute units. */
        public String describe() {
            return index + ": " + name + " [" + type + "] on " + platformName + " (" + version + ", "
                    + (globalMemBytes >> 20) + " MiB, " + computeUnits + " compute units)";
        }
    }

    /** The probe result, computed once per JVM. */
    private static final class Probe {
        static final Availability RESULT = run();

        private static Availability run() {
            String missing = missingLibrary("libOpenCL.so.1", "libOpenCL.so");
            if (missing != null) {
                return Availability.no("the OpenCL library (libOpenCL.so.1) could not be loaded (" + missing + "); "
                        + INSTALL_HINT);
            }
            try {
                List<Device> devices = list();
                if (devices.isEmpty()) {
                    return Availability.no("OpenCL platforms found but they expose no device; " + INSTALL_HINT);
                }
                Device d = devices.get(defaultIndex(devices));
                return Availability.yes(devices.size() + " device(s); default " + d.describe());
            } catch (NoPlatformException e) {
                return Availability.no(e.getMessage());
            } catch (LinkageError e) {
                return Availability.no("the OpenCL library (libOpenCL.so.1) could not be loaded (" + e.getMessage()
                        + "); " + INSTALL_HINT);
            } catch (RuntimeException e) {
                return Availability.no("OpenCL failed while listing devices: " + e + "; " + INSTALL_HINT);
            }
        }
    }

    /**
     * Why the OpenCL loader library cannot be opened, or null when it can (or when that cannot be
     * told without JOCL). Asked first because JOCL prints "Could not load libOpenCL.so.1" lines to
     * stdout when it fails, noise on every machine without OpenCL; dlopen through JavaCPP's loader
     * (bundled for the cpu backend) fails silently with the same reason.
     */
    static String missingLibrary(String... names) {
        StringBuilder reasons = new StringBuilder();
        for (String name : names) {
            try {
                org.bytedeco.javacpp.Loader.loadGlobal(name);
                return null;
            } catch (UnsatisfiedLinkError e) {
                reasons.append(reasons.length() == 0 ? "" : "; ").append(e.getMessage());
            } catch (LinkageError | RuntimeException noLoader) {
                return null;  // JavaCPP cannot load here: let JOCL try and say why
            }
        }
        return reasons.toString();
    }

    /** Whether OpenCL can run here, and why not. Never throws. */
    public static Availability probe() { return Probe.RESULT; }

    /** Every device of every platform, in index order. Throws LinkageError/CLException when OpenCL is absent. */
    public static List<Device> list() {
        CL.setExceptionsEnabled(true);
        int[] count = new int[1];
        try {
            CL.clGetPlatformIDs(0, null, count);
        } catch (CLException e) {
            if (e.getStatus() == CL.CL_PLATFORM_NOT_FOUND_KHR) {
                throw new NoPlatformException();
            }
            throw e;
        }
        if (count[0] == 0) {
            throw new NoPlatformException();
        }
        cl_platform_id[] platforms = new cl_platform_id[count[0]];
        CL.clGetPlatformIDs(platforms.length, platforms, null);
        List<Device> devices = new ArrayList<>();
        for (cl_platform_id p : platforms) {
            String platformName = platformString(p, CL.CL_PLATFORM_NAME);
            String platformVersion = platformString(p, CL.CL_PLATFORM_VERSION);
            int[] n = new int[1];
            try {
                CL.clGetDeviceIDs(p, CL.CL_DEVICE_TYPE_ALL, 0, null, n);
            } catch (CLException e) {
                if (e.getStatus() == CL.CL_DEVICE_NOT_FOUND) {
                    continue;
                }
                throw e;
            }
            cl_device_id[] ids = new cl_device_id[n[0]];
            CL.clGetDeviceIDs(p, CL.CL_DEVICE_TYPE_ALL, ids.length, ids, null);
            for (cl_device_id id : ids) {
                long type = deviceLong(id, CL.CL_DEVICE_TYPE);
                devices.add(new Device(devices.size(), p, id, platformName, platformVersion,
                        deviceString(id, CL.CL_DEVICE_NAME), typeName(type), (type & CL.CL_DEVICE_TYPE_GPU) != 0,
                        deviceLong(id, CL.CL_DEVICE_GLOBAL_MEM_SIZE), deviceLong(id, CL.CL_DEVICE_MAX_MEM_ALLOC_SIZE),
                        deviceInt(id, CL.CL_DEVICE_MAX_COMPUTE_UNITS), deviceString(id, CL.CL_DEVICE_VERSION)));
            }
        }
        return devices;
    }

    /** The first GPU device, else device 0. */
    public static int defaultIndex(List<Device> devices) {
        for (Device d : devices) {
            if (d.gpu()) {
                return d.index();
            }
        }
        return 0;
    }

    /** Whether probing found at least one GPU device (what {@code auto} requires). Never throws. */
    public static boolean hasGpu() {
        if (!probe().available()) {
            return false;
        }
        return list().stream().anyMatch(Device::gpu);
    }

    private static String typeName(long type) {
        if ((type & CL.CL_DEVICE_TYPE_GPU) != 0) {
            return "GPU";
        }
        if ((type & CL.CL_DEVICE_TYPE_CPU) != 0) {
            return "CPU";
        }
        if ((type & CL.CL_DEVICE_TYPE_ACCELERATOR) != 0) {
            return "accelerator";
        }
        return "other";
    }

    static String deviceString(cl_device_id d, int param) {
        long[] size = new long[1];
        CL.clGetDeviceInfo(d, param, 0, null, size);
        byte[] buffer = new byte[(int) size[0]];
        CL.clGetDeviceInfo(d, param, buffer.length, Pointer.to(buffer), null);
        return cString(buffer);
    }

    private static String platformString(cl_platform_id p, int param) {
        long[] size = new long[1];
        CL.clGetPlatformInfo(p, param, 0, null, size);
        byte[] buffer = new byte[(int) size[0]];
        CL.clGetPlatformInfo(p, param, buffer.length, Pointer.to(buffer), null);
        return cString(buffer);
    }

    private static long deviceLong(cl_device_id d, int param) {
        long[] value = new long[1];
        CL.clGetDeviceInfo(d, param, Sizeof.cl_ulong, Pointer.to(value), null);
        return value[0];
    }

    private static int deviceInt(cl_device_id d, int param) {
        int[] value = new int[1];
        CL.clGetDeviceInfo(d, param, Sizeof.cl_uint, Pointer.to(value), null);
        return value[0];
    }

    static String cString(byte[] bytes) {
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.UTF_8).trim();
    }

    /** The ICD loader is there but no driver registered a platform. */
    static final class NoPlatformException extends RuntimeException {
        NoPlatformException() {
            super("no OpenCL platform (the ICD loader found no driver in /etc/OpenCL/vendors); " + INSTALL_HINT);
        }
    }
}
