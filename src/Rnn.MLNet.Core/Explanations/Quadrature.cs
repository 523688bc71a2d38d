using System;

namespace Rnn.MLNet.Explanations;

/// <summary>
/// Gauss–Legendre quadrature on [0, 1]: ∫₀¹ f(α) dα ≈ Σ_k w_k f(α_k) with n nodes, exact for polynomials of degree ≤ 2n − 1
/// and converging exponentially for smooth (analytic) integrands such as a tanh/sigmoid network along a straight path.
/// </summary>
public static class GaussLegendre
{
    /// <summary>The n nodes α_k ∈ (0, 1), ascending, and their weights w_k (Σ w_k = 1).</summary>
    public static (double[] Nodes, double[] Weights) OnUnitInterval(int n)
    {
        if (n < 1 || n > 1024) throw new ArgumentOutOfRangeException(nameof(n), n, "The number of Gauss–Legendre nodes must be in 1..1024.");
        var nodes = new double[n];
        var weights = new double[n];
        for (int i = 0; i < (n + 1) / 2; i++)
        {
            // Newton's method on P_n from Tricomi's estimate of the i-th root on [−1, 1] (largest first).
            double x = System.Math.Cos(System.Math.PI * (i + 0.75) / (n + 0.5)), dp = 0;
            for (int iter = 0; iter < 100; iter++)
            {
                // P_n(x) and P_n'(x) by the three-term recurrence (j+1) P_{j+1} = (2j+1) x P_j − j P_{j−1}
                double p0 = 1, p1 = x;
                for (int j = 1; j < n; j++) (p0, p1) = (p1, ((2 * j + 1) * x * p1 - j * p0) / (j + 1));
                dp = n * (x * p1 - p0) / (x * x - 1);
                double step = p1 / dp;
                x -= step;
                if (System.Math.Abs(step) < 1e-15) break;
            }
            double w = 2 / ((1 - x * x) * dp * dp);
            // map [−1, 1] → [0, 1]: α = (1 ± x) / 2, weight w / 2; symmetric pairs
            nodes[i] = (1 - x) / 2; weights[i] = w / 2;
            nodes[n - 1 - i] = (1 + x) / 2; weights[n - 1 - i] = w / 2;
        }
        return (nodes, weights);
    }
}
