// CudaProvider: registers "cuda" with the backend factory; probing never throws, it explains what is missing.
package bptt.backend.cuda;

import bptt.backend.Backend;
import bptt.backend.BackendProvider;

import java.util.ArrayList;
import java.util.List;

/**
 * The cuda backend kind: available when JCuda's natives, driver, NVRTC 12, cuBLAS 12 and a GPU are all here, or
 * bptt's CUDA emulator with BPTT_CUDA_EMULATOR=1 (which {@code auto} never picks).
 */
public final class CudaProvider implements BackendProvider {
    @Override
    public String name() { return "cuda"; }

    @Override
    public Availability probe() {
        try {
            CudaProbe.Result r = CudaProbe.get();
            return r.available() ? Availability.yes(r.reason()) : Availability.no(r.reason());
        } catch (LinkageError e) {
            return Availability.no("the JCuda classes are not on the class path (" + e + "): run the shaded"
                    + " target/bptt.jar built by 'mvn package'");
        }
    }

    @Override
    public Backend open(int device) { return CudaBackend.open(device); }

    /** Never the emulator: it runs on the CPU, for tests, and must not pass for a GPU. */
    @Override
    public boolean preferredForAuto() {
        try {
            return probe().available() && !CudaProbe.get().emulated();
        } catch (LinkageError e) {
            return false;
        }
    }

    @Override
    public List<String> devices() {
        List<String> lines = new ArrayList<>();
        if (probe().available()) {
            for (CudaProbe.Device d : CudaProbe.get().devices()) {
                lines.add(d.describe());
            }
        }
        return lines;
    }
}
