// OpenClProvider: tells the backend factory whether OpenCL can run here and opens OpenClBackend.
package bptt.backend.opencl;

import bptt.backend.Backend;
import bptt.backend.BackendProvider;

import java.util.List;

/** The {@code opencl} backend kind; {@code auto} takes it only when a GPU device exists. */
public final class OpenClProvider implements BackendProvider {
    @Override
    public String name() { return "opencl"; }

    @Override
    public Availability probe() { return OpenClDevices.probe(); }

    @Override
    public Backend open(int device) { return OpenClBackend.open(device); }

    @Override
    public List<String> devices() {
        if (!probe().available()) {
            return List.of();
        }
        return OpenClDevices.list().stream().map(OpenClDevices.Device::describe).toList();
    }

    @Override
    public boolean preferredForAuto() { return OpenClDevices.hasGpu(); }
}
