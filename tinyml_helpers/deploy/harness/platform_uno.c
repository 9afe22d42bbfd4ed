/* platform_uno.c: the harness on an Arduino Uno (ATmega328P, 16 MHz), bare avr-libc.
 *
 * Part of the TinyML course (tinyml_helpers/deploy/harness). Serial output goes through a
 * ring buffer emptied by the "data register empty" interrupt, as Arduino's Serial does. The
 * main code waits on RAM variables, never by polling UCSR0A: simavr sleeps the host a little
 * on each such poll, which would make a run take seconds instead of a fraction of one.
 */
#include <avr/sleep.h>

#include "platform.h"

#define TX_SIZE 64u /* a power of two */

volatile uint16_t platform_overflows;
static volatile uint8_t tx_buffer[TX_SIZE];
static volatile uint8_t tx_head, tx_tail;

ISR(TIMER1_OVF_vect) { ++platform_overflows; }

ISR(USART_UDRE_vect) {
  if (tx_head == tx_tail) {
    UCSR0B &= (uint8_t)~_BV(UDRIE0); /* nothing left: stop asking */
    return;
  }
  UCSR0A = _BV(U2X0) | _BV(TXC0); /* clear "transmit complete" (written as 1), as Arduino does */
  UDR0 = tx_buffer[tx_tail];
  tx_tail = (uint8_t)((tx_tail + 1u) & (TX_SIZE - 1u));
}

void platform_init(void) {
  UCSR0A = _BV(U2X0); /* 1,000,000 baud: 16 MHz / (8 * (1 + 1)) */
  UBRR0 = 1;
  UCSR0C = _BV(UCSZ01) | _BV(UCSZ00); /* 8N1 */
  UCSR0B = _BV(TXEN0);
  TCCR1A = 0;
  TCCR1B = 0;
  TIMSK1 = _BV(TOIE1);
  sei();
}

void platform_write(const char *text, uint8_t length) {
  while (length--) {
    uint8_t next = (uint8_t)((tx_head + 1u) & (TX_SIZE - 1u));
    while (next == tx_tail) {
    }
    tx_buffer[tx_head] = (uint8_t)*text++;
    tx_head = next;
    UCSR0B |= _BV(UDRIE0);
  }
}

void platform_flush(void) {
  /* Until the buffer is empty and the interrupt has switched itself off: after this no
   * serial interrupt can fire during a measurement. */
  while (tx_head != tx_tail || (UCSR0B & _BV(UDRIE0))) {
  }
}

void platform_exit(int code) {
  (void)code; /* the Uno has nowhere to return a code: DONE on the serial line says it all */
  platform_flush();
  while (!(UCSR0A & _BV(TXC0))) { /* the last byte leaves the shift register */
  }
  cli();
  sleep_enable();
  sleep_cpu(); /* simavr ends the run: sleeping with interrupts off */
  for (;;) {
  }
}
