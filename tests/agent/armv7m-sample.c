/* armv7m-sample.c — code the Cortex-M0+ cannot run (UDIV, 32-bit Thumb-2 encodings),
 * compiled for the Cortex-M3: check-armv6m.py must refuse it, which shows that its
 * instruction check sees what it is meant to. */
unsigned armv7m_sample(unsigned a, unsigned b);

unsigned armv7m_sample(unsigned a, unsigned b)
{
	return a / b + (a * 0x12345u >> 3) + (a & 0xff00ff00u);
}
