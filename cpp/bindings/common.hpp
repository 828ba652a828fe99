// Shared helpers of the binding layer: the only code that knows Python.
// Every binding follows three steps: (1) cheap checks and output allocation with the GIL held,
// (2) O(n) validation and the kernel with the GIL released, (3) return numpy arrays.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crossrec/csr.hpp"

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
      py::object lo = arr.attr("min")();
      py::object hi = arr.attr("max")();
      require(lo.cast<long long>() >= INT32_MIN && hi.cast<long long>() <= INT32_MAX,
              name + ": index values do not fit in int32");
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
  require(n_cols >= 0, name + ": n_cols must be >= 0");
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

// Threads: 0 = all cores; negative is an error.
inline int thread_arg(int n_threads) {
  require(n_threads >= 0, "n_threads: must be >= 0 (0 = all cores), got " + std::to_string(n_threads));
  return n_threads;
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
