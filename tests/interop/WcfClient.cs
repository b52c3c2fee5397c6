// SPDX-License-Identifier: MIT
// Mono's WCF client opening a net.tcp session (NetTcpBinding, no security) on the URL
// given: Open() sends the [MC-NMF] preamble and returns once the server's Preamble Ack
// arrives. Built and run by run-wcf-interop.sh.
using System;
using System.ServiceModel;

[ServiceContract(Namespace = "http://openwws.example/interop")]
public interface IEcho
{
    [OperationContract]
    string Echo(string text);
}

public static class WcfClient
{
    public static int Main(string[] args)
    {
        if (args.Length != 1)
        {
            Console.Error.WriteLine("usage: WcfClient.exe net.tcp://HOST:PORT/PATH");
            return 2;
        }
        IClientChannel channel = null;
        ChannelFactory<IEcho> factory = null;
        int rc;
        try
        {
            var binding = new NetTcpBinding(SecurityMode.None);
            binding.OpenTimeout = TimeSpan.FromSeconds(5);
            binding.CloseTimeout = TimeSpan.FromSeconds(5);
            binding.SendTimeout = TimeSpan.FromSeconds(5);
            factory = new ChannelFactory<IEcho>(binding, new EndpointAddress(args[0]));
            channel = (IClientChannel)factory.CreateChannel();
            channel.Open();
            Console.WriteLine("wcf-client: open ok");
            rc = 0;
        }
        catch (Exception e)
        {
            Console.WriteLine("wcf-client: open failed: {0}: {1}", e.GetType().FullName, OneLine(e));
            rc = 1;
        }
        // Abort, not Close: openwws has no message I/O yet, and a graceful Close would
        // wait for the server's End record.
        if (channel != null) channel.Abort();
        if (factory != null) factory.Abort();
        // Exit even if a thread of the runtime is still waiting on the socket.
        Environment.Exit(rc);
        return rc;
    }

    // The message and those of the inner exceptions, on one line for the test's log.
    static string OneLine(Exception e)
    {
        string text = e.Message;
        for (Exception inner = e.InnerException; inner != null; inner = inner.InnerException)
            text += " <- " + inner.GetType().FullName + ": " + inner.Message;
        return text.Replace("\r", " ").Replace("\n", " ");
    }
}
