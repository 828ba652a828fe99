// Arguments shared by the factorisation bindings.
// Arrays a kernel updates in place: they must already be float32 and C-contiguous, because a
// converted copy would take the update and the caller's array would silently stay unchanged.
#pragma once
#include <string>

#include "common.hpp"
#include "crossrec/als.hpp"

namespace crossrec::bind {

inline InOut<float> inplace_array(const py::object& obj, const std::string& name, int ndim) {
  require(py::isinstance<py::array>(obj), name + ": expected a float32 numpy array (updated in place)");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  require(a.dtype().equal(py::dtype::of<float>()),  // equal, not is: an unpickled float32 has its own dtype object
          name + ": must be float32 (it is updated in place; a converted copy would lose the update), got " +
              std::string(py::str(a.dtype())));
  require(a.ndim() == ndim,
          name + ": expected " + std::to_string(ndim) + "-D array, got " + std::to_string(a.ndim()) + "-D");
  require((a.flags() & py::array::c_style) != 0, name + ": must be C-contiguous (it is updated in place)");
  require(a.writeable(), name + ": must be writeable (it is updated in place)");
  return py::reinterpret_borrow<InOut<float>>(a);
}

inline InOut<float> inplace_matrix(const py::object& obj, const std::string& name) {
  return inplace_array(obj, name, 2);
}

// An in-place output must not share memory with an input it is computed from.
template <class A, class B>
void require_disjoint(const A& out, const B& in, const std::string& out_name, const std::string& in_name) {
  const char* o0 = reinterpret_cast<const char*>(out.data());
  const char* o1 = o0 + out.nbytes();
  const char* i0 = reinterpret_cast<const char*>(in.data());
  const char* i1 = i0 + in.nbytes();
  require(o1 <= i0 || i1 <= o0, out_name + " and " + in_name + ": must not share memory");
}

// Optional (n_rows x f targets, n_rows weights) pull of each row toward given values.
struct PriorArg {
  std::optional<In<float>> target, weight;
  RowPrior view() const { return target ? RowPrior{target->data(), weight->data()} : RowPrior{}; }
  void validate(const std::string& name) const {
    if (!target) return;
    validate_finite(target->data(), target->size(), name);
    const float* w = weight->data();
    for (int64_t i = 0; i < weight->shape(0); ++i)
      if (!(std::isfinite(w[i]) && w[i] >= 0.0f))
        fail(name + "_weight: must be finite and >= 0, got " + std::to_string(w[i]) + " at row " + std::to_string(i));
  }
};

inline PriorArg prior_arg(const py::object& target, const py::object& weight, int64_t n_rows, int64_t f,
                          const std::string& name) {
  PriorArg p;
  require(target.is_none() == weight.is_none(), name + " and " + name + "_weight: give both or neither");
  if (target.is_none()) return p;
  p.target = float_matrix(target, name);
  require(p.target->shape(0) == n_rows && p.target->shape(1) == f,
          name + ": expected shape (" + std::to_string(n_rows) + ", " + std::to_string(f) + ")");
  p.weight = float_vector(weight, name + "_weight");
  require(p.weight->shape(0) == n_rows, name + "_weight: expected length " + std::to_string(n_rows));
  return p;
}

}  // namespace crossrec::bind
