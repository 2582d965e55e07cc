// NvrtcCompileTest: NVIDIA's NVRTC 12.6 compiles kernels/ through NvrtcCompiler for every supported architecture.
package bptt.backend.cuda;

import bptt.backend.KernelSource;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The runtime compile path itself: {@link NvrtcCompiler} (its options, its calls) with the real
 * libnvrtc.so.12 that the test build unpacks from Maven Central, for every architecture from
 * sm_50 (the oldest the README supports) to the newest this NVRTC knows, each image checked to
 * be a CUBIN for exactly that architecture holding an entry for every kernel of kernels/; and a
 * device newer than NVRTC gets PTX. Without NVRTC the tests are skipped, unless
 * BPTT_REQUIRE_NVRTC=1 (CI), which makes that a failure.
 */
class NvrtcCompileTest {
    static final int OLDEST_SUPPORTED = 50;
    static final int DRIVER_12_6 = 12060;

    @BeforeAll
    static void needNvrtc() {
        String why;
        try {
            NvrtcCompiler.version();
            return;
        } catch (LinkageError | CudaErrors.CudaFailure e) {
            why = "NVRTC is not loadable: " + CudaProbe.explain(e);
        }
        if ("1".equals(System.getenv("BPTT_REQUIRE_NVRTC"))) {
            fail(why + " but BPTT_REQUIRE_NVRTC=1: the test build unpacks libnvrtc.so.12 into target/nvrtc");
        }
        Assumptions.abort(why + "; set BPTT_REQUIRE_NVRTC=1 to make this a failure");
    }

    /** (sm architecture, "a" variant, entry names) of a CUDA CUBIN: an ELF64 file of machine EM_CUDA (190). */
    record Cubin(int arch, boolean archSpecific, Set<String> entries) {
        static Cubin read(byte[] elf) {
            ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0x464c457f, b.getInt(0), "ELF magic");
            assertEquals(190, b.getShort(0x12), "e_machine EM_CUDA");
            int flags = b.getInt(0x30);
            long shoff = b.getLong(0x28);
            int shentsize = b.getShort(0x3a);
            int shnum = b.getShort(0x3c);
            Set<String> entries = new LinkedHashSet<>();
            for (int s = 0; s < shnum; s++) {
                int sh = (int) (shoff + (long) s * shentsize);
                if (b.getInt(sh + 4) != 2) {               // SHT_SYMTAB
                    continue;
                }
                int symbols = (int) b.getLong(sh + 0x18);
                long size = b.getLong(sh + 0x20);
                int strtab = (int) b.getLong((int) (shoff + (long) b.getInt(sh + 0x28) * shentsize) + 0x18);
                for (int y = symbols; y < symbols + size; y += 24) {
                    boolean function = (b.get(y + 4) & 0xf) == 2;           // STT_FUNC
                    boolean entry = (b.get(y + 5) & 0x10) != 0;             // STO_CUDA_ENTRY
                    if (function && entry) {
                        int name = strtab + b.getInt(y);
                        int end = name;
                        while (elf[end] != 0) {
                            end++;
                        }
                        entries.add(new String(elf, name, end - name, StandardCharsets.US_ASCII));
                    }
                }
            }
            return new Cubin(flags & 0xff, (flags & 0x800) != 0, entries);
        }
    }

    @Test
    void everySupportedArchitectureGetsACubinWithEveryKernel() {
        int[] archs = NvrtcCompiler.supportedArchs();
        System.out.println("NVRTC " + NvrtcCompiler.version() + " compiles for " + Arrays.toString(archs));
        assertTrue(Arrays.stream(archs).anyMatch(a -> a == OLDEST_SUPPORTED),
                "the README supports compute capability 5.0, but this NVRTC does not compile for sm_50");
        assertTrue(Arrays.stream(archs).max().orElse(0) >= 90, "NVRTC 12.6 knows sm_90");
        Set<String> kernels = new LinkedHashSet<>(KernelSource.kernelNames());
        assertFalse(kernels.isEmpty());
        for (int arch : archs) {
            assertTrue(arch >= OLDEST_SUPPORTED, "arch " + arch);
            NvrtcCompiler.Image image = NvrtcCompiler.image(arch, DRIVER_12_6);
            assertTrue(image.cubin(), "sm_" + arch + " is known to NVRTC, so the kernels must be a CUBIN");
            Cubin cubin = Cubin.read(image.bytes());
            assertEquals(arch, cubin.arch(), "CUBIN architecture");
            assertFalse(cubin.archSpecific());
            assertEquals(kernels, cubin.entries(), "entries of the sm_" + arch + " CUBIN");
        }
    }

    @Test
    void aDeviceNewerThanNvrtcGetsPtxForTheNewestArchitecture() {
        int newest = Arrays.stream(NvrtcCompiler.supportedArchs()).max().orElseThrow();
        int beyond = newest + 10;
        assertEquals(java.util.List.of("-arch=compute_" + newest, "-std=c++17"),
                NvrtcCompiler.options(beyond, NvrtcCompiler.supportedArchs()));
        NvrtcCompiler.Image image = NvrtcCompiler.image(beyond, Integer.MAX_VALUE);
        assertFalse(image.cubin());
        assertEquals(newest, image.arch());
        String ptx = new String(image.bytes(), StandardCharsets.US_ASCII);
        assertTrue(ptx.endsWith("\0"), "PTX handed to cuModuleLoadData must be NUL-terminated");
        assertTrue(ptx.contains(".target sm_" + newest), ptx.substring(0, 300));
        Set<String> entries = new LinkedHashSet<>();
        Matcher m = Pattern.compile("\\.entry (\\w+)\\(").matcher(ptx);
        while (m.find()) {
            entries.add(m.group(1));
        }
        assertEquals(new LinkedHashSet<>(KernelSource.kernelNames()), entries);
        if (NvrtcCompiler.version().equals("12.6")) {
            assertEquals(85, NvrtcCompiler.ptxIsa(image.bytes()), "NVRTC 12.6 writes PTX ISA 8.5");
        }
    }

    @Test
    void ptxNewerThanTheDriverSaysWhatToUpdate() {
        NvrtcCompiler.checkPtxLoads(85, 12050, 120, "12.6");
        NvrtcCompiler.checkPtxLoads(85, DRIVER_12_6, 120, "12.6");
        CudaErrors.CudaFailure e = assertThrows(CudaErrors.CudaFailure.class,
                () -> NvrtcCompiler.checkPtxLoads(85, 12040, 120, "12.6"));
        assertTrue(e.getMessage().contains("supports CUDA 12.4, which loads PTX only up to ISA 8.4"), e.getMessage());
        assertTrue(e.getMessage().contains("update the NVIDIA driver to release 555 or newer (CUDA 12.5)"), e.getMessage());
        assertTrue(e.getMessage().contains("knows sm_120"), e.getMessage());
        assertEquals(12000, NvrtcCompiler.cudaForPtxIsa(80));
        assertEquals(84, NvrtcCompiler.maxPtxIsa(12040));
    }

    @Test
    void theOptionsAreOnesNvrtcAccepts() {
        int[] archs = NvrtcCompiler.supportedArchs();
        assertEquals(java.util.List.of("-arch=sm_86", "-std=c++17"), NvrtcCompiler.options(86, archs));
        assertEquals(java.util.List.of("-arch=sm_50", "-std=c++17"), NvrtcCompiler.options(50, archs));
        IllegalStateException old = assertThrows(IllegalStateException.class, () -> NvrtcCompiler.options(35, archs));
        assertTrue(old.getMessage().contains("compute capability 3.5"), old.getMessage());
    }
}
