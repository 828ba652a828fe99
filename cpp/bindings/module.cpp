// The extension module crossrec._core: collects every binding file's functions.
#include <algorithm>
#include <new>

#include "common.hpp"
#include "crossrec/parallel.hpp"

namespace crossrec::bind {
std::vector<std::pair<std::string, Registrar>>& registry() {
  static std::vector<std::pair<std::string, Registrar>> entries;
  return entries;
}
}  // namespace crossrec::bind

PYBIND11_MODULE(_core, m) {
  m.doc() = "crossrec native kernels (C++). Use the typed wrappers in crossrec.* instead.";
  auto entries = crossrec::bind::registry();
  std::sort(entries.begin(), entries.end());  // registration order must not depend on link order
  for (auto& [name, registrar] : entries) registrar(m);
#if defined(CROSSREC_HAVE_OPENMP)
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif
  m.def("max_threads", [] { return crossrec::resolve_threads(0); }, "Threads used when n_threads=0.");
  m.def(
      "thread_cap", [] { return crossrec::thread_cap(); },
      "The most threads a kernel starts (4 x hardware threads); larger n_threads are clamped to it.");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const crossrec::bind::MemoryLimit& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });
}
