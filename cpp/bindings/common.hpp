// Shared helpers of the binding layer: the only code that knows Python.
// Every binding follows three steps: (1) cheap checks and output allocation with the GIL held,
// (2) O(n) validation and the kernel with the GIL released, (3) return numpy arrays.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crossrec/csr.hpp"
#include "crossrec/parallel.hpp"

namespace py = pybind11;

namespace crossrec::bind {

// Read-only inputs: converted to C-contiguous arrays of T when needed.
template <class T>
using In = py::array_t<T, py::array::c_style | py::array::forcecast>;
// Arrays a kernel updates in place: exact dtype and layout, never a silent copy.
template <class T>
using InOut = py::array_t<T, py::array::c_style>;

[[noreturn]] inline void fail(const std::string& message) { throw std::invalid_argument(message); }
inline void require(bool ok, const std::string& message) {
  if (!ok) fail(message);
}

// Integer index arrays: reject float/bool/object dtypes (a silent float->int cast hides bugs),
// check the range before narrowing, then give a contiguous int32 array.
inline In<int32_t> index_array(const py::handle& obj, const std::string& name, int ndim = 1) {
  py::array arr = py::array::ensure(obj);
  require(static_cast<bool>(arr), name + ": expected an array of integer indices");
  const char kind = arr.dtype().kind();
  require(kind == 'i' || kind == 'u',
          name + ": expected integer indices, got dtype " + std::string(py::str(arr.dtype())));
  require(arr.ndim() == ndim,
          name + ": expected " + std::to_string(ndim) + "-D array, got " + std::to_string(arr.ndim()) + "-D");
  if (arr.dtype().itemsize() > 4 || kind == 'u') {
    if (arr.size() > 0) {
      // Compared as Python ints: a uint64 above 2**63 does not even fit a C++ long long.
      const py::int_ lo(arr.attr("min")()), hi(arr.attr("max")());
      require(lo >= py::int_(INT32_MIN) && hi <= py::int_(INT32_MAX),
              name + ": index values do not fit in int32 (got " + std::string(py::str(lo)) + " .. " +
                  std::string(py::str(hi)) + ")");
    }
  }
  return In<int32_t>::ensure(arr);
}

inline void require_ndim(const py::array& a, int ndim, const std::string& name) {
  require(a.ndim() == ndim,
          name + ": expected " + std::to_string(ndim) + "-D array, got " + std::to_string(a.ndim()) + "-D");
}

inline void require_float_kind(const py::handle& obj, const std::string& name) {
  py::array arr = py::array::ensure(obj);
  require(static_cast<bool>(arr), name + ": expected a numeric array");
  const char kind = arr.dtype().kind();
  require(kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b',
          name + ": expected a numeric array, got dtype " + std::string(py::str(arr.dtype())));
}

// A dense float32 matrix argument, converted to C-contiguous float32.
inline In<float> float_matrix(const py::handle& obj, const std::string& name) {
  require_float_kind(obj, name);
  In<float> a = In<float>::ensure(obj);
  require_ndim(a, 2, name);
  return a;
}

inline In<float> float_vector(const py::handle& obj, const std::string& name) {
  require_float_kind(obj, name);
  In<float> a = In<float>::ensure(obj);
  require_ndim(a, 1, name);
  return a;
}

inline DenseView dense_view(const In<float>& a) {
  return DenseView{a.data(), static_cast<int64_t>(a.shape(0)), static_cast<int64_t>(a.shape(1))};
}

// Owns the (possibly converted) arrays behind a CsrView.
struct CsrArg {
  In<int64_t> indptr;
  In<int32_t> indices;
  std::optional<In<float>> data;
  CsrView view;
  std::string name;
  // O(nnz) checks; call with the GIL released.
  void validate(bool finite_data = true) const { validate_csr(view, name, finite_data); }
};

// CSR from (indptr, indices, data or None, n_cols). Cheap shape checks only.
inline CsrArg csr_arg(const py::handle& indptr, const py::handle& indices, const py::handle& data, int64_t n_cols,
                      const std::string& name) {
  CsrArg m;
  m.name = name;
  py::array ip = py::array::ensure(indptr);
  require(static_cast<bool>(ip) && (ip.dtype().kind() == 'i' || ip.dtype().kind() == 'u'),
          name + ".indptr: expected integer array");
  m.indptr = In<int64_t>::ensure(ip);
  require_ndim(m.indptr, 1, name + ".indptr");
  require(m.indptr.shape(0) >= 1, name + ".indptr: must have at least one entry");
  m.indices = index_array(indices, name + ".indices");
  const int64_t nnz = m.indices.shape(0);
  require(m.indptr.data()[m.indptr.shape(0) - 1] == nnz, name + ": indptr[-1] (" +
                                                             std::to_string(m.indptr.data()[m.indptr.shape(0) - 1]) +
                                                             ") != len(indices) (" + std::to_string(nnz) + ")");
  require(n_cols >= 0 && n_cols <= INT32_MAX,
          name + ": n_cols must be in [0, 2**31 - 1] (int32 column indices), got " + std::to_string(n_cols));
  m.view.indptr = m.indptr.data();
  m.view.indices = m.indices.data();
  m.view.n_rows = m.indptr.shape(0) - 1;
  m.view.n_cols = n_cols;
  if (!data.is_none()) {
    m.data = float_vector(data, name + ".data");
    require(m.data->shape(0) == nnz, name + ": len(data) (" + std::to_string(m.data->shape(0)) + ") != len(indices) (" +
                                         std::to_string(nnz) + ")");
    m.view.data = m.data->data();
  }
  return m;
}

// Threads: 0 = all cores; negative is an error; above crossrec::thread_cap() (4 x the hardware
// threads) it is clamped to that cap, so no request can start more threads than the machine can use.
inline int thread_arg(int64_t n_threads) {
  require(n_threads >= 0, "n_threads: must be >= 0 (0 = all cores; at most " + std::to_string(thread_cap()) +
                              " threads are used), got " + std::to_string(n_threads));
  return n_threads == 0 ? 0 : resolve_threads(n_threads);
}

// A count argument (n, k, max_len, ...) taken as int64 so any Python int that fits is accepted,
// range-checked here, then narrowed.
inline int count_arg(int64_t value, const std::string& name, int64_t lo, int64_t hi = INT32_MAX) {
  require(value >= lo && value <= hi,
          name +
              (hi == INT64_MAX ? ": must be >= " + std::to_string(lo)
                               : ": must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]") +
              ", got " + std::to_string(value));
  return static_cast<int>(value);
}

// A refused allocation; module.cpp translates it to MemoryError (std::bad_alloc carries no message).
struct MemoryLimit : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Bytes the process can still allocate: MemAvailable (/proc/meminfo), lowered to what is left under
// an address-space limit (RLIMIT_AS). -1 when neither is known.
inline int64_t available_memory() {
  int64_t avail = -1;
  if (FILE* f = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    long long kb = 0;
    while (std::fgets(line, sizeof line, f)) {
      if (std::sscanf(line, "MemAvailable: %lld kB", &kb) == 1) {
        avail = static_cast<int64_t>(kb) * 1024;
        break;
      }
    }
    std::fclose(f);
  }
#if defined(__unix__)
  struct rlimit lim;
  if (getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    int64_t used = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
      long long pages = 0;
      if (std::fscanf(f, "%lld", &pages) == 1) used = static_cast<int64_t>(pages) * sysconf(_SC_PAGESIZE);
      std::fclose(f);
    }
    const int64_t left = static_cast<int64_t>(lim.rlim_cur) - used;
    avail = avail < 0 ? left : std::min(avail, left);
  }
#endif
  return avail;
}

// Refuses, before allocating, a buffer that cannot fit: MemoryError with the estimate (the same
// rule as crossrec._memory.check_allocation on the Python side). A zero-filled vector touches every
// page, so under overcommit an allocation that "succeeds" can still bring the OOM killer.
inline void require_memory(double bytes, const std::string& what) {
  const int64_t avail = available_memory();
  if (avail >= 0 && bytes > static_cast<double>(avail))
    throw MemoryLimit(what + " needs about " + std::to_string(bytes / 1073741824.0) + " GiB, more than the " +
                      std::to_string(avail / 1073741824.0) + " GiB available");
}

// A transpose (CSC copy) of m allocates n_cols + 1 offsets and the entries again; `copies` of it.
inline void require_transpose_memory(const CsrView& m, int copies, const std::string& name) {
  require_memory(copies * ((m.n_cols + 1) * 8.0 + m.nnz() * 8.0 + m.n_rows * 8.0),
                 name + "'s transpose (" + std::to_string(m.n_cols) + " columns)");
}

template <class T>
py::array_t<T> new_array(std::vector<py::ssize_t> shape) {
  return py::array_t<T>(shape);
}

// Self-registration of binding files, so adding a kernel never edits a central list.
using Registrar = void (*)(py::module_&);
std::vector<std::pair<std::string, Registrar>>& registry();
struct Register {
  Register(const char* name, Registrar f) { registry().emplace_back(name, f); }
};

}  // namespace crossrec::bind

#define CROSSREC_BINDINGS(name)                                                            \
  static void crossrec_bind_##name(py::module_& m);                                        \
  static ::crossrec::bind::Register crossrec_register_##name(#name, crossrec_bind_##name); \
  static void crossrec_bind_##name(py::module_& m)
