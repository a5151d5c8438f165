import { Refresh } from '../src/events';

describe('Refresh', () => {
  it('calls every connected listener until it disconnects', () => {
    const refresh = new Refresh();
    const calls: string[] = [];
    const stopA = refresh.connect(() => calls.push('a'));
    refresh.connect(() => calls.push('b'));
    refresh.emit();
    stopA();
    refresh.emit();
    expect(calls).toEqual(['a', 'b', 'b']);
  });
});
