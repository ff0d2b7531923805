/* The fused loop optlab's sweep is measured against (bench/throughput.py).
 *
 * K configurations (each with its own learning rate) of one optimizer on Andrei's TRIDIA
 * function, n coordinates, T steps, everything in one pass per step: the gradient, the
 * moment updates and the parameter update share one loop over coordinates. Configurations
 * are independent, so OpenMP splits them across threads.
 *
 * Update rules are the same as optlab's (1-based t, bc1 = 1 - b1^t, bc2 = 1 - b2^t):
 *   adam (E1):   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *                x = x - lr (m/bc1) / (sqrt(v/bc2) + eps)
 *   aida(1, 2):  m = b1 m + (1-b1) g;  r = b2 r + (1-b2) |g|;
 *                rho = |m/bc1| / ((r + eps)/bc2);  x = x - lr sgn(m) rho^2
 * TRIDIA: f = (x_1 - 1)^2 + sum_{i=2..n} i (2 x_i - x_{i-1})^2.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFINE_KERNEL(NAME, REAL, SQRT, FABS, POW)                                         \
  static void NAME##_grad(int n, const REAL *x, REAL *g) {                                  \
    g[0] = 2 * (x[0] - 1);                                                                   \
    for (int j = 1; j < n; j++) g[j] = 0;                                                    \
    for (int j = 1; j < n; j++) {                                                            \
      REAL i = (REAL)(j + 1);                                                                \
      REAL r = 2 * x[j] - x[j - 1];                                                          \
      g[j] += 4 * i * r;                                                                     \
      g[j - 1] -= 2 * i * r;                                                                 \
    }                                                                                        \
  }                                                                                          \
  void NAME(int method, int K, int n, int T, const REAL *lr, REAL b1, REAL b2, REAL eps,    \
            REAL *X) {                                                                       \
    _Pragma("omp parallel for schedule(static)")                                             \
    for (int k = 0; k < K; k++) {                                                            \
      REAL *x = X + (size_t)k * n;                                                           \
      REAL *m = calloc(n, sizeof(REAL)), *s = calloc(n, sizeof(REAL));                       \
      REAL *g = malloc(n * sizeof(REAL));                                                    \
      REAL a = lr[k];                                                                        \
      for (int t = 1; t <= T; t++) {                                                         \
        REAL bc1 = 1 - POW(b1, (REAL)t), bc2 = 1 - POW(b2, (REAL)t);                         \
        NAME##_grad(n, x, g);                                                                \
        if (method == 0) {                                                                   \
          for (int j = 0; j < n; j++) {                                                      \
            m[j] = b1 * m[j] + (1 - b1) * g[j];                                              \
            s[j] = b2 * s[j] + (1 - b2) * g[j] * g[j];                                       \
            x[j] = x[j] - a * (m[j] / bc1) / (SQRT(s[j] / bc2) + eps);                       \
          }                                                                                  \
        } else {                                                                             \
          for (int j = 0; j < n; j++) {                                                      \
            m[j] = b1 * m[j] + (1 - b1) * g[j];                                              \
            s[j] = b2 * s[j] + (1 - b2) * FABS(g[j]);                                        \
            REAL den = (s[j] + eps) / bc2;                                                   \
            REAL rho = den > 0 ? FABS(m[j] / bc1) / den : 0;                                 \
            REAL sg = (m[j] > 0) - (m[j] < 0);                                               \
            x[j] = x[j] - a * (sg * (rho * rho));                                            \
          }                                                                                  \
        }                                                                                    \
      }                                                                                      \
      free(m);                                                                               \
      free(s);                                                                               \
      free(g);                                                                               \
    }                                                                                        \
  }

DEFINE_KERNEL(sweep_f64, double, sqrt, fabs, pow)
DEFINE_KERNEL(sweep_f32, float, sqrtf, fabsf, powf)
